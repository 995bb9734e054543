"""Novel names from readers: checked in one place, so no name reaches a path, a collection or a URL raw."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from rag.errors import BadInputError

MAX_NAME_CHARS = 60
_FORBIDDEN = re.compile(r"[/\\]")


def check_name(name: str, what: str = "novel") -> str:
    """`name` (NFC, trimmed) when it can name a store (or a card: `what`), else one BadInputError that says why."""
    n = unicodedata.normalize("NFC", str(name or "")).strip()
    if not n:
        raise BadInputError(f"the {what} name is empty")
    if len(n) > MAX_NAME_CHARS:
        raise BadInputError(f"the {what} name is {len(n)} characters long; use at most {MAX_NAME_CHARS}")
    if any(unicodedata.category(c)[0] == "C" for c in n):
        raise BadInputError(f"the {what} name contains control characters")
    if _FORBIDDEN.search(n) or ".." in n or n.startswith("."):
        raise BadInputError(f"{what} name {n!r} may not contain slashes or '..' or start with '.'")
    return n


def name_from_filename(filename: str) -> str:
    """A usable store name from an uploaded file's name: no folders, control characters or brackets."""
    stem = Path(str(filename).replace("\\", "/")).name
    stem = stem[:-4] if stem.lower().endswith(".txt") else stem
    stem = "".join(c for c in unicodedata.normalize("NFC", stem) if unicodedata.category(c)[0] != "C")
    stem = re.sub(r"[《》\[\]【】<>:\"/\\|?*]", "", stem).replace("..", ".").strip(" .")
    return stem[:MAX_NAME_CHARS].strip() or "novel"
