"""A conversation to continue: lines of `speaker：text` (a scene from the book, another tool's log) or a chatroom's
JSONL, turned into the chat turns a character answers after. Other speakers' lines stay theirs: they become the
user side, labelled with the speaker, and only the character's own lines are its turns."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag.errors import BadInputError

MAX_SCENE_BYTES = 1 << 20
_LINE = re.compile(r"^\s*([^：:\s]{1,12})\s*[：:]\s*(.+?)\s*$")


def read_scene(path: Path) -> list[tuple[str, str]]:
    """(speaker, text) lines of a scene file: `speaker：text` lines, or a chatroom transcript (.jsonl)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SCENE_BYTES:
            raise BadInputError(f"{path}: a scene file may be at most 1 MB")
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"scene file not found: {path}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not UTF-8 text") from None
    lines: list[tuple[str, str]] = []
    if path.suffix.lower() == ".jsonl":
        for n, row in enumerate(raw.splitlines(), 1):
            if not row.strip():
                continue
            try:
                item = json.loads(row)
            except ValueError:
                raise BadInputError(f"{path}:{n} is not JSON") from None
            if isinstance(item, dict) and isinstance(item.get("speaker"), str) and isinstance(item.get("text"), str):
                lines.append((item["speaker"].strip(), item["text"].strip()))
            elif not (isinstance(item, dict) and "topic" in item):  # the transcript's head line
                raise BadInputError(f"{path}:{n}: a turn needs \"speaker\" and \"text\"")
    else:
        for n, row in enumerate(raw.splitlines(), 1):
            if not row.strip():
                continue
            m = _LINE.match(row)
            if not m:
                raise BadInputError(f"{path}:{n}: write each line as speaker：text, not {row.strip()[:30]!r}")
            lines.append((m.group(1), m.group(2)))
    if not lines:
        raise BadInputError(f"{path} holds no lines")
    return [(s, t) for s, t in lines if t]


def as_history(lines: list[tuple[str, str]], own: tuple[str, ...], user: str = "你") -> tuple[list[tuple[str, str]], str]:
    """(history pairs, what is still unanswered) for the character called by any of `own`: the others' lines
    between two of its own become one user turn, each labelled with its speaker (the reader's own without a
    label); the lines after its last one are the message it answers next."""
    pairs: list[tuple[str, str]] = []
    pending: list[str] = []
    for speaker, text in lines:
        if speaker in own:
            pairs.append(("\n".join(pending) or "……", text))
            pending = []
        else:
            pending.append(text if speaker == user else f"{speaker}：{text}")
    return pairs, "\n".join(pending)
