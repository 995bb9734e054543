"""Exact and near-duplicate removal (the reference's generated data had one question 29 times)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from rag.ingest.decode import to_simplified

_NOISE = re.compile(r"[\s\W_]+", re.U)


def normalize(text: str) -> str:
    """Simplified, without whitespace or punctuation: the form duplicates are compared in."""
    return _NOISE.sub("", to_simplified(text or "")).lower()


def bigrams(text: str) -> set[str]:
    t = normalize(text)
    return {t[i:i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams, 0..1."""
    x, y = bigrams(a), bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def dedup(items: Iterable[dict], key: Callable[[dict], str], threshold: float = 0.8) -> tuple[list[dict], list[dict]]:
    """(kept, dropped): the first of each group of items whose keys are equal or ≥ `threshold` similar."""
    kept: list[dict] = []
    dropped: list[dict] = []
    seen: set[str] = set()
    index: dict[str, list[int]] = {}  # bigram → kept items having it, so only candidates sharing one are compared
    grams: list[set[str]] = []
    for item in items:
        k = normalize(key(item))
        g = bigrams(k)
        if k in seen or any(len(g & grams[i]) / len(g | grams[i]) >= threshold
                            for i in {i for b in g for i in index.get(b, [])}):
            dropped.append(item)
            continue
        seen.add(k)
        for b in g:
            index.setdefault(b, []).append(len(kept))
        grams.append(g)
        kept.append(item)
    return kept, dropped
