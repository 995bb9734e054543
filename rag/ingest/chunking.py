"""Recursive, chapter-aware splitting with Chinese separators and exact source offsets."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

import numpy as np

from rag.ingest.chapters import Chapter

# coarse → fine; each cuts *after* its match so punctuation stays with its sentence
SEPARATORS = [
    re.compile(r"\n"),
    re.compile(r"[。！？!?…]+[”’」』）)]*"),
    re.compile(r"[；;]"),
    re.compile(r"[，,、：:]"),
]


@dataclass
class Chunk:
    """One retrievable passage; `original[start:end]` is its source span in the decoded file."""

    chunk_id: str
    text: str
    novel: str
    chapter: int
    chapter_index: int
    chapter_title: str
    start: int
    end: int
    seq: int

    def metadata(self) -> dict:
        """Chroma metadata (flat scalars)."""
        d = asdict(self)
        d.pop("text")
        return d


def _atoms(text: str, lo: int, hi: int, size: int, level: int = 0) -> list[tuple[int, int]]:
    """Cut [lo, hi) into pieces no longer than `size`, using the coarsest separator that works."""
    if hi - lo <= size and level > 0:
        return [(lo, hi)]
    if level >= len(SEPARATORS):
        return [(i, min(i + size, hi)) for i in range(lo, hi, size)]
    cuts = [m.end() + lo for m in SEPARATORS[level].finditer(text[lo:hi])]
    out: list[tuple[int, int]] = []
    prev = lo
    for c in [*cuts, hi]:
        if c > prev:
            out.extend(_atoms(text, prev, c, size, level + 1) if c - prev > size or level == 0 else [(prev, c)])
            prev = c
    return out


def split_spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy merge of sentence-level atoms into ≤ size spans that share ≤ overlap characters."""
    # sentences are the atoms, so overlap is made of whole sentences when they are short enough
    atoms = [a for line in _atoms(text, 0, len(text), size, 0) for a in _atoms(text, *line, size, 1)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(atoms):
        j, start = i, atoms[i][0]
        while j < len(atoms) and atoms[j][1] - start <= size:
            j += 1
        j = max(j, i + 1)
        spans.append((start, atoms[j - 1][1]))
        if j >= len(atoms):
            break
        k = j
        while k - 1 > i and atoms[j - 1][1] - atoms[k - 1][0] <= overlap:
            k -= 1
        i = k
    return spans


def chunk_chapters(chapters: list[Chapter], novel: str, size: int = 600, overlap: int = 100) -> list[Chunk]:
    """Chunks for every chapter; never across a chapter boundary."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for ch in chapters:
        if not ch.lines:
            continue
        body = "\n".join(x.text for x in ch.lines)
        # the joining newline maps to the position right after its line
        pos = np.concatenate([np.append(x.pos, x.pos[-1] + 1) for x in ch.lines])[: len(body)]
        for a, b in split_spans(body, size, overlap):
            while a < b and body[a] == "\n":
                a += 1
            while b > a and body[b - 1] == "\n":
                b -= 1
            if a >= b:
                continue
            piece = body[a:b]
            digest = hashlib.sha1(piece.encode("utf-8")).hexdigest()[:16]
            n = seen.get(digest, 0)
            seen[digest] = n + 1
            chunks.append(Chunk(
                chunk_id=digest if n == 0 else f"{digest}-{n}", text=piece, novel=novel,
                chapter=ch.number, chapter_index=ch.index, chapter_title=ch.title,
                start=int(pos[a]), end=int(pos[b - 1]) + 1, seq=len(chunks),
            ))
    return chunks
