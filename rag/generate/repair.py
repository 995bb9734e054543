"""Output repair: stop repetition loops, trim an unfinished trailing sentence, optional 繁→简."""

from __future__ import annotations

import re

_SENT_END = "。！？!?”」』）)…〕"  # 〕 closes a chapter citation
_NUMERAL = re.compile(r"两?[零〇一二三四五六七八九十百千万亿]{2,}|两[零〇一二三四五六七八九十百千万亿]")  # 两 only leads


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


def complete_numbers(text: str, evidence: str) -> str:
    """Restore a Chinese number the model copied from the passages with a character missing.

    A small model writing 千三百余年 for the book's 一千三百余年 loses the reader's answer. A numeral run of
    the answer that never stands alone in the evidence but lies inside exactly one longer run there is
    replaced by that run.
    """
    runs = set(_NUMERAL.findall(evidence))

    def fix(m: re.Match) -> str:
        n = m.group()
        if n in runs:
            return n
        longer = {r for r in runs if n in r}
        return longer.pop() if len(longer) == 1 else n

    return _NUMERAL.sub(fix, text)


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
