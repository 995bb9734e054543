"""Drop web-scrape noise line by line while remembering where every kept character came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_URL = re.compile(r"https?://|www\.|\b[\w-]+\.(?:com|net|org|cn|cc|info|top|xyz)\b", re.I)
_META = re.compile(r"^(?:更新时间|本章字数|发布时间|上传时间|字数|更新日期)\s*[:：]")
_AD = re.compile(
    r"仅供.{0,8}预览|下载后?.{0,8}删除|购买正版|支持正版|免费下载|手机.{0,4}阅读|本书由|电子书|txt\s*小说|小说天堂"
    r"|章节内容开始|作品来自|本站|收藏本站|最新章节",
    re.I,
)
_RULE = re.compile(r"^[-=*_~—·.。]{3,}.{0,12}?[-=*_~—·.。]{0,}$")
_TOKEN = re.compile(r"\S+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


@dataclass
class Line:
    """One kept line: its cleaned text and the original index of each of its characters."""

    text: str
    pos: np.ndarray  # int64, len(text)
    raw: str = ""  # the original line with only its ends stripped (headings keep their spacing)

    @property
    def start(self) -> int:
        return int(self.pos[0])

    @property
    def end(self) -> int:
        return int(self.pos[-1]) + 1


def is_noise(line: str) -> bool:
    """True for ad lines, scrape metadata and separator rules; story text never matches."""
    if len(line) > 200:  # story paragraphs are long; ads and metadata are short
        return False
    return bool(_URL.search(line) or _META.match(line) or _AD.search(line) or _RULE.match(line))


def clean_line(raw: str, offset: int) -> Line | None:
    """Strip indentation and inner whitespace (full-width spaces, tabs); keep one space between Latin words."""
    parts: list[str] = []
    pos: list[np.ndarray] = []
    prev = ""
    for m in _TOKEN.finditer(raw):
        tok = m.group()
        if prev and _ASCII_WORD.match(prev[-1]) and _ASCII_WORD.match(tok[0]):
            parts.append(" ")
            pos.append(np.array([offset + m.start() - 1], dtype=np.int64))
        parts.append(tok)
        pos.append(np.arange(offset + m.start(), offset + m.end(), dtype=np.int64))
        prev = tok
    if not parts:
        return None
    return Line("".join(parts), np.concatenate(pos), raw.strip())


def clean_lines(text: str) -> list[Line]:
    """All non-noise, non-blank lines of `text`, cleaned, with original offsets."""
    out: list[Line] = []
    offset = 0
    for raw in text.splitlines(keepends=True):
        line = clean_line(raw, offset)
        offset += len(raw)
        if line is not None and not is_noise(line.text):
            out.append(line)
    return out


def clean_span(original: str) -> str:
    """The cleaned form of a piece of original text (what a chunk's text is for its span)."""
    return "\n".join(line.text for line in clean_lines(original) if line.text)
