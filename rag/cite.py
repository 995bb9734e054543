"""Cite every answer from its evidence: the chapter of the shown passage that holds the answer's key string.

The model is asked to cite (〔第十四回〕) but often forgets, or cites from memory; the chapter is decided
here instead, from the passage that contains the longest piece of the answer the question did not
already say (the name, place or number the reader asked for).
"""

from __future__ import annotations

import re

from rag.generate.prompter import chapter_label
from rag.retrieve import Passage

CITATION = re.compile(r"\s*〔[^〕]*〕")


def key_overlap(answer: str, question: str, text: str) -> str:
    """The longest piece (≥ 2 characters, no punctuation) of `answer` that stands in `text` and not in `question`."""
    best = ""
    for part in re.split(r"[\W_]+", answer):  # "是。" in some passage says nothing about the answer
        for i in range(len(part)):
            for j in range(len(part), i + max(1, len(best)), -1):  # longest first; skip what cannot beat `best`
                piece = part[i:j]
                if piece in text and piece not in question:
                    best = piece
                    break
    return best if len(best) >= 2 else ""


def source_of(answer: str, question: str, evidence: list[Passage]) -> Passage | None:
    """The passage holding the answer's longest new piece (the higher-ranked one on a tie), or None."""
    plain = CITATION.sub("", answer)
    best, best_len = None, 0
    for p in evidence:
        n = len(key_overlap(plain, question, p.text))
        if n > best_len:
            best, best_len = p, n
    return best


def cite(answer: str, question: str, evidence: list[Passage]) -> tuple[str, Passage | None]:
    """The answer with the model's own citations replaced by the evidence's, and the passage cited."""
    src = source_of(answer, question, evidence)
    plain = CITATION.sub("", answer).strip()
    if src is None or not plain:
        return plain or answer, None
    return f"{plain}〔{chapter_label(src.chapter, src.chapter_title)}〕", src
