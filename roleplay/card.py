"""Character Card V2 (`chara_card_v2`), the format SillyTavern and most roleplay front-ends read and write.

Cards are plain dicts in the spec's shape. Reading accepts V2 and the older root-level V1 shape, fills the
spec's defaults and keeps every unknown key (in `data`, in `extensions`, in lore entries) so a card goes
out as it came in. 书问's own fields live under `data.extensions.shuwen`. PNG cards carry the JSON,
base64-encoded, in a `chara` tEXt chunk.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

from rag.errors import BadInputError

SPEC, SPEC_VERSION = "chara_card_v2", "2.0"
TEXT_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
               "system_prompt", "post_history_instructions", "creator", "character_version")
LIST_FIELDS = ("alternate_greetings", "tags")
SHUWEN_DEFAULTS: dict[str, Any] = {"novel": "", "aliases": [], "self_ref": "", "gender": "", "affiliation": "",
                                   "identity": "", "adapter": "", "backend": "", "endpoint": "", "model": "",
                                   "voice": "", "pitch": 0}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_CARD_BYTES = 1024 * 1024  # the card's JSON
MAX_PNG_BYTES = 16 * 1024 * 1024  # a PNG card: the picture and the card
KNOWN_SPECS = {"chara_card_v2": "2", "chara_card_v3": "3"}  # V3 keeps V2's data fields, so it reads the same
_MACRO = re.compile(r"\{\{\s*(char|user)\s*\}\}|<(BOT|USER)>", re.I)


def new_card(name: str, **fields: Any) -> dict:
    """A V2 card with the spec's defaults; `fields` are `data` fields (and `shuwen` for our extension)."""
    shuwen = fields.pop("shuwen", {})
    card = normalize({"spec": SPEC, "spec_version": SPEC_VERSION, "data": {"name": name, **fields}})
    card["data"]["extensions"]["shuwen"].update(shuwen)
    return card


def normalize(obj: Any) -> dict:
    """A complete V2 card from a V2 or V1 card; one BadInputError when it is not a card at all."""
    if not isinstance(obj, dict):
        raise BadInputError("a character card is a JSON object")
    card = copy.deepcopy(obj)
    spec, version = card.get("spec"), str(card.get("spec_version", ""))
    if spec is not None and (spec not in KNOWN_SPECS or (version and version.split(".")[0] != KNOWN_SPECS[spec])):
        raise BadInputError(f"unknown card spec {spec!r} version {version or '?'}: 书问 reads chara_card_v2 "
                            "(and the older V1 fields, and V3's V2 fields)")
    if spec in KNOWN_SPECS or isinstance(card.get("data"), dict):
        data = card.setdefault("data", {})
    else:  # V1: the fields sit at the root
        data = {k: card[k] for k in ("name", "description", "personality", "scenario", "first_mes", "mes_example")
                if k in card}
        card = {"data": data}
    if not isinstance(data, dict):
        raise BadInputError("the card's 'data' must be an object")
    if spec != "chara_card_v3":  # a V3 card goes out as V3; everything else is written as V2
        card["spec"], card["spec_version"] = SPEC, SPEC_VERSION
    for f in TEXT_FIELDS:
        v = data.get(f, "")
        if not isinstance(v, str):
            raise BadInputError(f"card field {f!r} must be text")
        data[f] = v
    for f in LIST_FIELDS:
        v = data.get(f, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise BadInputError(f"card field {f!r} must be a list of strings")
        data[f] = v
    if not data["name"].strip():
        raise BadInputError("a character card needs a name")
    ext = data.setdefault("extensions", {})
    if not isinstance(ext, dict):
        raise BadInputError("the card's 'extensions' must be an object")
    ext["shuwen"] = {**SHUWEN_DEFAULTS, **(ext.get("shuwen") or {})}
    if "character_book" in data and data["character_book"] is not None:
        data["character_book"] = _book(data["character_book"])
    return card


def _book(book: Any) -> dict:
    if not isinstance(book, dict) or not isinstance(book.get("entries", []), list):
        raise BadInputError("character_book must be an object with a list of entries")
    book.setdefault("extensions", {})
    entries = []
    for i, e in enumerate(book.get("entries", [])):
        if not isinstance(e, dict) or not isinstance(e.get("content", ""), str):
            raise BadInputError(f"character_book entry {i} must be an object with text content")
        keys = e.get("keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadInputError(f"character_book entry {i}: keys must be a list of strings")
        entries.append({"keys": keys, "content": e.get("content", ""), "extensions": {}, "enabled": True,
                        "insertion_order": i, **e})
    book["entries"] = entries
    return book


def shuwen(card: dict) -> dict:
    """书问's fields of a card (novel, aliases, first-person word, …)."""
    return card["data"]["extensions"]["shuwen"]


def names(card: dict) -> list[str]:
    """The character's name and aliases, longest first (for matching in text)."""
    given = [card["data"]["name"], *shuwen(card).get("aliases", [])]
    return sorted((n for i, n in enumerate(given) if n and n not in given[:i]), key=len, reverse=True)


def substitute(text: str, char: str, user: str = "你") -> str:
    """Replace {{char}} / {{user}} (and V1's <BOT> / <USER>), case-insensitively."""
    return _MACRO.sub(lambda m: char if (m.group(1) or m.group(2)).lower() in ("char", "bot") else user, text)


def active_lore(card: dict, recent: str) -> list[dict]:
    """Lore entries to insert for the recent conversation text, in insertion order.

    An entry fires when it is enabled and constant, or one of its keys occurs in `recent`; a selective
    entry also needs one of its secondary keys.
    """
    book = card["data"].get("character_book") or {}

    def hit(keys: list[str], case_sensitive: bool) -> bool:
        hay = recent if case_sensitive else recent.lower()
        return any(k and (k if case_sensitive else k.lower()) in hay for k in keys)

    out = []
    for e in book.get("entries", []):
        if not e.get("enabled", True):
            continue
        cs = bool(e.get("case_sensitive"))
        fires = e.get("constant") or hit(e.get("keys", []), cs)
        if fires and e.get("selective") and e.get("secondary_keys"):
            fires = hit(e["secondary_keys"], cs)
        if fires:
            out.append(e)
    return sorted(out, key=lambda e: e.get("insertion_order", 0))


# --- files: JSON and PNG ----------------------------------------------------------------------------

def read_card(source: Path | bytes) -> dict:
    """A card from a .json or .png file (or its bytes)."""
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise BadInputError(f"no such card file: {source}")
        data = Path(source).read_bytes()
    else:
        data = bytes(source)
    limit = MAX_PNG_BYTES if data.startswith(PNG_MAGIC) else MAX_CARD_BYTES
    if len(data) > limit:
        raise BadInputError(f"the card file is {len(data) / 2**20:.1f} MB; the limit is {limit / 2**20:g} MB")
    if data.startswith(PNG_MAGIC):
        raw = png_text(data).get("chara")
        if raw is None:
            raise BadInputError("this PNG has no character card (no 'chara' tEXt chunk)")
        try:
            data = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError):
            raise BadInputError("the PNG's 'chara' chunk is not base64") from None
        if len(data) > MAX_CARD_BYTES:
            raise BadInputError(f"the card in this PNG is {len(data) / 2**20:.1f} MB; the limit is 1 MB")
    try:
        return normalize(json.loads(data.decode("utf-8-sig")))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInputError(f"not a character card (JSON or PNG): {e}") from None


def card_json(card: dict) -> str:
    return json.dumps(normalize(card), ensure_ascii=False, indent=2)


def write_card(card: dict, path: Path, image: bytes | None = None) -> Path:
    """Write a card as .json, or as .png (into `image`, or a plain portrait-sized picture); atomically."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        payload = png_with_card(image or blank_png(), card)
    else:
        payload = card_json(card).encode("utf-8")
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(payload)
    tmp.replace(path)
    return path


def _chunks(png: bytes):
    if not png.startswith(PNG_MAGIC):
        raise BadInputError("not a PNG file")
    pos = len(PNG_MAGIC)
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        yield kind, png[pos + 8 : pos + 8 + length], pos, pos + 12 + length
        pos += 12 + length
        if kind == b"IEND":
            return


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_text(png: bytes) -> dict[str, str]:
    """tEXt chunks of a PNG as {keyword: text} (latin-1, as the PNG spec says)."""
    out = {}
    for kind, body, _, _ in _chunks(png):
        if kind == b"tEXt" and b"\0" in body:
            key, _, text = body.partition(b"\0")
            out[key.decode("latin-1")] = text.decode("latin-1")
    return out


def png_with_card(png: bytes, card: dict) -> bytes:
    """`png` with its `chara` tEXt chunk(s) replaced by this card (tEXt, never zTXt: readers expect tEXt)."""
    payload = base64.b64encode(card_json(card).encode("utf-8"))
    out, iend = [PNG_MAGIC], None
    for kind, body, a, b in _chunks(png):
        if kind == b"IEND":
            iend = png[a:b]
            break
        if kind == b"tEXt" and body.split(b"\0", 1)[0] in (b"chara", b"ccv3"):
            continue
        out.append(png[a:b])
    if iend is None:
        raise BadInputError("the PNG has no IEND chunk")
    return b"".join(out + [_chunk(b"tEXt", b"chara\0" + payload), iend])


def blank_png(width: int = 400, height: int = 600, rgb: tuple[int, int, int] = (233, 226, 208)) -> bytes:
    """A plain picture in the portrait shape card front-ends show."""
    row = b"\0" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_MAGIC + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(row * height, 9)) + _chunk(b"IEND", b"")
