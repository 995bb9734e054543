"""Find chapters (第一回 / 第十章 / 第01回 / 楔子 / 序 / 附录 / 番外 …) in cleaned lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.ingest.clean import Line

_NUM = r"[零〇一二三四五六七八九十百千两壹贰叁肆伍陆柒捌玖拾佰0-9０-９]+"
_PREFIX = r"(?:[^\s第]{0,12}\s+)?"
_NUMBERED = re.compile(rf"^{_PREFIX}(第{_NUM}[回章节])(?:[\s:：、.．]+(.*)|(.*))$")
_SPECIAL = re.compile(rf"^{_PREFIX}(楔子|序章|序言|序|引子|前言|附录|番外\S{{0,6}}|尾声|后记)(?:[\s:：、.．]+(.*))?$")
_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2} | {
    c: i + 1 for i, c in enumerate("壹贰叁肆伍陆柒捌玖")}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000}


def chinese_number(s: str) -> int:
    """'一百二十' → 120, '十五' → 15, '01' / '１２' → 1 / 12."""
    s = s.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if s.isdigit():
        return int(s)
    total, cur = 0, 0
    for ch in s:
        if ch in _DIGITS:
            cur = _DIGITS[ch]
        elif ch in _UNITS:
            total += (cur or 1) * _UNITS[ch]
            cur = 0
    return total + cur


@dataclass
class Chapter:
    """A chapter: `number` follows the book (an 附录 after 第八回 is 8), `index` counts from 1."""

    index: int
    number: int
    title: str
    lines: list[Line] = field(default_factory=list)

    @property
    def chars(self) -> int:
        return sum(len(x.text) for x in self.lines)


def parse_heading(text: str) -> tuple[str, int | None, str] | None:
    """('numbered'|'special', number or None, title) when `text` is a chapter heading."""
    text = re.sub(r"\s+", " ", text.strip())
    if len(text) > 60 or text.endswith(("。", "！", "？", "”", "」", "，", "：")):
        return None
    if m := _NUMBERED.match(text):
        rest = (m.group(2) or m.group(3) or "").strip()
        if len(rest) > 40:
            return None
        number = chinese_number(m.group(1)[1:-1])
        return "numbered", number, f"{m.group(1)}　{rest.replace(' ', '　')}" if rest else m.group(1)
    if m := _SPECIAL.match(text):
        rest = (m.group(2) or "").strip()
        if len(rest) > 40:
            return None
        return "special", None, f"{m.group(1)}　{rest.replace(' ', '　')}" if rest else m.group(1)
    return None


def split_chapters(lines: list[Line], section_chars: int = 8000) -> list[Chapter]:
    """Group lines under chapter headings; fixed-size sections when the text has none."""
    chapters: list[Chapter] = []
    front: list[Line] = []
    last_number = 0
    for line in lines:
        head = parse_heading(line.raw or line.text)
        if head is None:
            (chapters[-1].lines if chapters else front).append(line)
            continue
        kind, number, title = head
        if kind == "numbered":
            last_number = number
        chapters.append(Chapter(len(chapters) + 1, number if kind == "numbered" else last_number, title))
    # a table of contents repeats the headings: drop empty sections whose number comes again later
    seen_later: set[int] = set()
    kept: list[Chapter] = []
    for ch in reversed(chapters):
        if ch.chars < 20 and ch.number in seen_later:
            continue
        seen_later.add(ch.number)
        kept.append(ch)
    chapters = [c for c in reversed(kept) if c.lines]
    if not chapters:
        return _fixed_sections(front, section_chars)
    # front matter is kept only if it reads like prose (title/author lines carry no sentence stops)
    if any(re.search(r"[。！？]", x.text) for x in front):
        chapters.insert(0, Chapter(0, 0, "卷首", front))
    for i, ch in enumerate(chapters, start=1):
        ch.index = i
    return chapters


def _fixed_sections(lines: list[Line], size: int) -> list[Chapter]:
    sections: list[Chapter] = []
    for line in lines:
        if not sections or sections[-1].chars >= size:
            n = len(sections) + 1
            sections.append(Chapter(n, n, f"第{n}部分"))
        sections[-1].lines.append(line)
    return sections
