"""Character cards on disk: `characters/<novel>/<name>.json` beside the novel's store (never committed).

Names are checked by `rag.names.check_name` before they become folder or file names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rag.errors import BadInputError
from rag.names import check_name
from rag.settings import Settings
from roleplay.card import normalize, read_card, shuwen, write_card


def characters_dir(settings: Settings) -> Path:
    """Where cards live: beside a persistent store, or under cache_dir for a Chroma server."""
    return settings.beside_store / "characters"


def card_path(settings: Settings, novel: str, name: str) -> Path:
    return characters_dir(settings) / check_name(novel) / f"{check_name(name)}.json"


def save(settings: Settings, card: dict) -> Path:
    """Store a card under its novel (extensions.shuwen.novel) and name; returns the file."""
    card = normalize(card)
    novel = shuwen(card)["novel"]
    if not novel:
        raise BadInputError("the card does not say which novel it belongs to (extensions.shuwen.novel)")
    path = card_path(settings, novel, card["data"]["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_card(card, path)


def load(settings: Settings, novel: str, name: str) -> dict:
    path = card_path(settings, novel, name)
    if not path.is_file():
        have = ", ".join(list_names(settings, novel)) or "none"
        raise BadInputError(f"no character {name!r} for 《{novel}》 (have: {have}); draft one with "
                            f"`python -m roleplay draft --novel {novel} --name {name}` or import a card")
    return read_card(path)


def list_names(settings: Settings, novel: str) -> list[str]:
    folder = characters_dir(settings) / check_name(novel)
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.endswith(".lines.json"))


def delete(settings: Settings, novel: str, name: str) -> None:
    for p in (card_path(settings, novel, name), lines_path(settings, novel, name),
              lines_path(settings, novel, name).with_suffix(".npy")):
        p.unlink(missing_ok=True)


def lines_path(settings: Settings, novel: str, name: str) -> Path:
    """The character's own lines (JSON) beside the card; their vectors in the .npy next to it."""
    return card_path(settings, novel, name).with_suffix(".lines.json")


def save_lines(settings: Settings, novel: str, name: str, lines: list[dict], vectors: np.ndarray) -> None:
    path = lines_path(settings, novel, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(lines, ensure_ascii=False), encoding="utf-8")
    with open(path.with_suffix(".npy.part"), "wb") as f:
        np.save(f, np.asarray(vectors, np.float32))
    path.with_suffix(".npy.part").replace(path.with_suffix(".npy"))
    tmp.replace(path)


def load_lines(settings: Settings, novel: str, name: str) -> tuple[list[dict], np.ndarray] | None:
    path = lines_path(settings, novel, name)
    if not path.is_file() or not path.with_suffix(".npy").is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")), np.load(path.with_suffix(".npy"))
