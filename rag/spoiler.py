"""Spoiler guard: a reader mid-book says how far they have read, and only the book up to there is searched,
shown to the model and cited; a question answered only later gets "你还没读到这里" instead of the spoiler.

How far is one number: the last chunk position (`seq`, in reading order) the reader has reached. 第N回 /
chapter N means through the end of that chapter (the 附录 of 西游记 sits inside 第八回's numbering, so the
cut follows the book's order, not the numbers); N% means the first N% of the chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.errors import BadInputError
from rag.ingest.chapters import chinese_number

NOT_YET = "你还没读到这里：书里写到这件事的地方，在你读到的位置之后。"
_CHAPTER = re.compile(r"^(?:第\s*)?([0-9０-９零〇一二三四五六七八九十百千两]+)\s*[回章节卷]?$|^(?:chapter|ch\.?)\s*(\d+)$", re.I)
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*[%％]$")


@dataclass(frozen=True)
class ReadTo:
    """How far the reader has read: through chapter number `chapter`, or the first `percent` of the book."""

    chapter: int | None = None
    percent: float | None = None

    def label(self) -> str:
        return f"第{self.chapter}回" if self.chapter is not None else f"{self.percent:g}%"


def parse_read_to(text: str | None) -> ReadTo | None:
    """None for the whole book ("" / "all"); one clear error for what is not a chapter or a percentage."""
    t = (text or "").strip().replace("　", " ")
    if not t or t.lower() in {"all", "全部", "全书", "100%", "100％"}:
        return None
    if m := _PERCENT.match(t):
        p = float(m.group(1))
        if not 0 < p <= 100:
            raise BadInputError(f"read_to {text!r}: a percentage must be between 0 and 100")
        return None if p == 100 else ReadTo(percent=p)
    if m := _CHAPTER.match(t):
        raw = m.group(1) or m.group(2)
        n = int(raw.translate(str.maketrans("０１２３４５６７８９", "0123456789"))) if raw.isdigit() else chinese_number(raw)
        if n < 1:
            raise BadInputError(f"read_to {text!r}: chapters start at 1")
        return ReadTo(chapter=n)
    raise BadInputError(f"read_to {text!r}: say how far you have read as 第12回, 12 or 40%")


def cutoff(read_to: ReadTo | None, positions: list[tuple[int, int, int]]) -> int | None:
    """The last readable `seq` given every chunk's (seq, chapter number, chapter_index); None = no limit.

    第N回 ends with the last chunk of the last chapter numbered N, or — when the book has no chapter N (a
    gap, or a number past the end) — of the last chapter numbered below N.
    """
    if read_to is None or not positions:
        return None
    order = sorted(positions)
    if read_to.percent is not None:
        return order[max(0, int(len(order) * read_to.percent / 100) - 1)][0]
    reached = [idx for _, ch, idx in order if ch <= read_to.chapter]
    if not reached:
        return -1  # not even chapter 1 read: nothing is readable yet
    last = max(reached)
    if last == max(idx for _, _, idx in order):
        return None  # read to the end
    return max(seq for seq, _, idx in order if idx <= last)
