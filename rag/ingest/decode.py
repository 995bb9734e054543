"""Read a novel file safely: size and type checks, encoding detection, optional 繁→简."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.errors import BadInputError

# Very frequent characters in Simplified and Traditional writing; decoding a file with the wrong
# Chinese codec produces rare characters, so the right codec scores highest.
_COMMON = set(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她"
    "里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从"
    "动两长知民样现与点等它进把由实问听师父王山水云神仙道兄弟叫做只见却说原来怎么如何什么妖怪大圣"
    "這個們來說時會為國對學過後還發經實點動與見長現開問裡麼沒聽師兒電話當從無於東車門間關語氣"
    "，。！？：；“”、…"
)
_MAGIC = {
    b"\x89PNG": "a PNG image", b"PK\x03\x04": "a zip archive", b"%PDF": "a PDF document",
    b"GIF8": "a GIF image", b"\xff\xd8\xff": "a JPEG image", b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive", b"7z\xbc\xaf": "a 7z archive", b"\x7fELF": "an executable",
    b"ID3": "an MP3 file", b"RIFF": "a RIFF (WAV/AVI) file", b"OggS": "an Ogg file",
    b"\xd0\xcf\x11\xe0": "an old Office document",
}
_CANDIDATES = ("gb18030", "big5")


@dataclass
class Decoded:
    """A decoded novel: `text` is the original with any BOM removed (offsets refer to it)."""

    text: str
    encoding: str
    size: int


def read_bytes(path: Path, max_mb: float) -> bytes:
    """The file's bytes, or one clear BadInputError."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"no such file: {path}")
    if path.is_dir():
        raise BadInputError(f"{path} is a directory; give the path of a .txt novel")
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise BadInputError(f"{path} is {size / 1048576:.1f} MB, over the {max_mb:g} MB limit (setting max_file_mb)")
    try:
        return path.read_bytes()
    except OSError as e:
        raise BadInputError(f"cannot read {path}: {e.strerror}") from None


def _score(text: str) -> float:
    sample = text[:20000]
    return sum(c in _COMMON for c in sample) / max(1, len(sample))


def detect_and_decode(data: bytes, name: str = "file") -> tuple[str, str]:
    """(text without BOM, encoding name) — detected from the bytes, never from the file name."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise BadInputError(f"{name} looks like {what}, not a text novel")
    if data.startswith(codecs.BOM_UTF8):
        enc, body = "utf-8-sig", data[3:]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc, body = "utf-16", data
    else:
        enc, body = None, data
    if enc is None and b"\x00" in data[:8192]:
        raise BadInputError(f"{name} looks like a binary file (it contains NUL bytes), not a text novel")
    if enc:
        try:
            return body.decode("utf-8" if enc == "utf-8-sig" else enc).lstrip("\ufeff"), enc
        except UnicodeDecodeError as e:
            raise BadInputError(f"{name} starts with a {enc} BOM but has undecodable bytes at offset {e.start}") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    decoded = {}
    for cand in _CANDIDATES:
        try:
            decoded[cand] = data.decode(cand)
        except UnicodeDecodeError:
            pass
    if not decoded:
        raise BadInputError(
            f"{name} has undecodable bytes at offset {utf8_error.start}: not UTF-8, GB18030/GBK or Big5")
    best = max(decoded, key=lambda c: _score(decoded[c]))
    if _score(decoded[best]) < 0.02:
        raise BadInputError(f"{name} does not look like Chinese text in UTF-8, GB18030/GBK or Big5")
    return decoded[best], best


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC)."""
    return _t2s().convert(text)


def decode_file(path: Path, max_mb: float = 50.0) -> Decoded:
    """Read and decode a novel; raises BadInputError with one clear line on bad input."""
    data = read_bytes(path, max_mb)
    if not data.strip():
        raise BadInputError(f"{path} is empty")
    text, enc = detect_and_decode(data, str(path))
    if not text.strip():
        raise BadInputError(f"{path} is empty")
    bad = sum(1 for c in text[:20000] if (ord(c) < 32 and c not in "\r\n\t\f\v") or c == "\ufffd")
    if bad > max(10, len(text[:20000]) // 100):
        raise BadInputError(f"{path} looks like a binary file (many control characters), not a text novel")
    return Decoded(text=text, encoding=enc, size=len(data))
