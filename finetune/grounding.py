"""Is a generated answer supported by the passage it came from?"""

from __future__ import annotations

import re

from finetune.dedup import bigrams, normalize

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*[”’」』]?")


def support(answer: str, passage: str) -> float:
    """1.0 when the answer occurs in the passage verbatim (ignoring punctuation), else the share of its bigrams that do."""
    a, p = normalize(answer), normalize(passage)
    if not a:
        return 0.0
    if a in p:
        return 1.0
    grams = bigrams(a)
    return sum(g in p for g in grams) / len(grams)


def grounded(answer: str, passage: str, threshold: float = 0.8) -> bool:
    """The answer is supported by the passage (see `support`)."""
    return support(answer, passage) >= threshold


def evidence_sentence(answer: str, passage: str) -> str:
    """The passage sentence that best supports the answer (verbatim), for provenance and retrieval scoring."""
    sentences = [m.group().strip() for m in _SENTENCE.finditer(passage) if m.group().strip()]
    return max(sentences, key=lambda s: support(answer, s), default="")
