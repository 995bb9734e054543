"""Uploaded novels kept on disk (content-addressed), so their stores can be rebuilt later."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rag.errors import BadInputError
from rag.names import name_from_filename
from rag.settings import Settings


def check_size(size: int, filename: str, s: Settings) -> None:
    """One clear error when an upload is larger than max_file_mb."""
    if size > s.max_file_mb * 1024 * 1024:
        raise FileTooLarge(f"{name_from_filename(filename)} is {size / 1e6:.1f} MB; "
                           f"the limit is {s.max_file_mb:g} MB (max_file_mb)")


class FileTooLarge(BadInputError):
    """An upload over max_file_mb."""


def save_upload(data: bytes, filename: str, s: Settings) -> Path:
    """Keep the uploaded bytes under uploads_dir, named by their hash, written atomically."""
    check_size(len(data), filename, s)
    s.uploads_dir.mkdir(parents=True, exist_ok=True)
    path = s.uploads_dir / f"{hashlib.sha256(data).hexdigest()[:16]}-{name_from_filename(filename)}.txt"
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
