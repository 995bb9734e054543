"""Cite every answer from its evidence (the chapter of the passage holding its key string), and tie it to the question.

The model is asked to cite (〔第十四回〕) but often forgets, or cites from memory; the chapter is decided
here instead, from the passage that contains the longest piece of the answer the question did not
already say (the name, place or number the reader asked for).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


# characters a question uses to ask, not to name anything: a pair of them is no anchor (什么, 是谁, 一个)
_ASKING = set("什么哪里哪个哪位多少是谁一个这个那个时候怎么为什么的了是在有被把给和与他她它们吗呢")


def anchors(question: str, aliases: Sequence[Sequence[str]] = ()) -> set[str]:
    """What ties a piece of evidence to the question: its character bigrams (not two asking characters), and every
    name of a character it names (玄德 for 刘备), from the book's alias groups."""
    plain = re.sub(r"[\W_]+", "", question)
    out = {plain[i : i + 2] for i in range(len(plain) - 1) if not (plain[i] in _ASKING and plain[i + 1] in _ASKING)}
    for group in aliases:
        if any(name in question for name in group):
            out.update(group)
    return out


def by_the_question(answer: str, question: str, evidence: list[Passage], aliases: Sequence[Sequence[str]] = ()) -> bool:
    """Whether a window of the evidence (the pieces between ……) that holds the answer's longest new piece also
    holds something of the question. A number or name taken from a window about something else (赤兔马死的时候有
    五十八岁 from 关公's death at 五十八) is not the book's answer. The book card (chapter 0) always counts."""
    plain = CITATION.sub("", answer)
    pieces = [(p.chapter, w) for p in evidence for w in p.text.split("……")]
    key = max((key_overlap(plain, question, w) for _, w in pieces), key=len, default="")
    if not key:
        return False
    ties = anchors(question, aliases)
    return any(key in w and (chapter == 0 or any(t in w for t in ties)) for chapter, w in pieces)


def cite(answer: str, question: str, evidence: list[Passage]) -> tuple[str, Passage | None]:
    """The answer with the model's own citations replaced by the evidence's, and the passage cited."""
    src = source_of(answer, question, evidence)
    plain = CITATION.sub("", answer).strip()
    if src is None or not plain:
        return plain or answer, None
    return f"{plain}〔{chapter_label(src.chapter, src.chapter_title)}〕", src
