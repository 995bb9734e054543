"""Output repair: stop repetition loops, trim an unfinished trailing sentence, optional 繁→简."""

from __future__ import annotations

import re

_SENT_END = "。！？!?”」』）)…〕"  # 〕 closes a chapter citation


def find_loop(text: str, min_unit: int = 4, repeats: int = 3) -> int | None:
    """Index where a unit of ≥ min_unit characters starts repeating `repeats` times in a row, if any."""
    m = re.search(rf"(.{{{min_unit},80}}?)\1{{{repeats - 1},}}", text, re.S)
    if not m:
        return None
    cut = m.start() + len(m.group(1))
    # the unit may start mid-sentence: keep the first copy up to its sentence end
    ends = [i for i, c in enumerate(text[cut : cut + len(m.group(1))]) if c in _SENT_END]
    return cut + ends[0] + 1 if ends else cut


def trim_unfinished(text: str) -> str:
    """Drop a trailing fragment after the last sentence end (keeps text that has no sentence end at all)."""
    text = text.rstrip()
    if not text or text[-1] in _SENT_END:
        return text
    cut = max(text.rfind(c) for c in _SENT_END)
    return text[: cut + 1] if cut >= len(text) // 3 else text


def repair(text: str, t2s: bool = False) -> str:
    """The repaired answer."""
    loop = find_loop(text)
    if loop is not None:
        text = text[:loop]
    text = trim_unfinished(text)
    if t2s:
        from rag.ingest.decode import to_simplified

        text = to_simplified(text)
    return text.strip()
