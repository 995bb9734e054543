"""Ingest: a novel file → decoded text → cleaned chapters → chunks with offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import BadInputError
from rag.ingest.chapters import Chapter, split_chapters
from rag.ingest.chunking import Chunk, chunk_chapters
from rag.ingest.clean import clean_lines
from rag.ingest.decode import decode_file, to_simplified

CHUNKER_VERSION = "zh-recursive-1"


@dataclass
class Novel:
    """A loaded novel; `original` is the decoded file text that chunk offsets point into."""

    name: str
    path: Path
    original: str
    encoding: str
    size: int
    chapters: list[Chapter]
    chunks: list[Chunk]

    def summary(self) -> dict:
        """The `--dry-run --json` view."""
        return {"name": self.name, "encoding": self.encoding, "chapters": len(self.chapters),
                "chunks": len(self.chunks), "chars": sum(ch.chars for ch in self.chapters)}


def novel_name(path: Path) -> str:
    """Default store name: the file stem without brackets (《西游记》.txt → 西游记)."""
    name = re.sub(r"[《》\[\]【】]", "", Path(path).stem).strip()
    return name or "novel"


def load_novel(path: Path, name: str | None = None, *, chunk_size: int = 600, chunk_overlap: int = 100,
               max_mb: float = 50.0, t2s: bool = False, section_chars: int = 8000) -> Novel:
    """Decode, clean, find chapters and chunk a novel file."""
    path = Path(path)
    dec = decode_file(path, max_mb)
    lines = clean_lines(dec.text)
    if not lines:
        raise BadInputError(f"{path} has no story text after removing blank and noise lines")
    chapters = split_chapters(lines, section_chars)
    name = name or novel_name(path)
    chunks = chunk_chapters(chapters, name, chunk_size, chunk_overlap)
    if t2s:
        for c in chunks:
            c.text = to_simplified(c.text)
        for ch in chapters:
            ch.title = to_simplified(ch.title)
    return Novel(name, path, dec.text, dec.encoding, dec.size, chapters, chunks)
