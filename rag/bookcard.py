"""The book card: who is in the book (by mentions) and what its chapters are called, for questions about the whole book.

No single chunk says who the protagonist is: asked 这个故事的主人公是谁？, the passages that match best name a boatman
mentioned 15 times, not the hero mentioned 107 times. The card is made from the build's BM25 index (rag/lexical.py:
character mentions per chapter, chapter titles) and shown beside the passages when the question is about the book.
"""

from __future__ import annotations

import re

from rag.ingest.chapters import chinese_number
from rag.lexical import LexicalIndex
from rag.retrieve import Passage

_WHOLE = re.compile(r"主人公|主角|主要人物|主要角色|哪些人物|哪些角色|讲了什么|讲的是什么|讲什么|写了什么|写的是什么|说了什么|"
                    r"主要内容|大意|梗概|概括|讲述了什么|故事.{0,4}关于什么")
_CHAPTER = re.compile(r"第([一二三四五六七八九十百零〇两\d]+)[回章]")


_PEOPLE = re.compile(r"主人公|主角|主要人物|主要角色|哪些人物|哪些角色")


def about_the_cast(question: str) -> bool:
    """Whether the question asks who the book is about (its hero, its people): only the card can answer that."""
    return bool(_PEOPLE.search(question))


def about_whole_book(question: str) -> bool:
    """Whether the question asks about the book as a whole (its hero, its people, what it or a chapter tells)."""
    return bool(_WHOLE.search(question))


def chapter_number(text: str) -> int | None:
    """第十四回 → 14, 第3章 → 3 (None when the text names no chapter)."""
    m = _CHAPTER.search(text)
    return chinese_number(m.group(1)) if m else None


def book_card(lex: LexicalIndex, question: str, last_row: int | None = None, top: int = 8,
              max_chars: int = 300) -> Passage | None:
    """A passage that lists the book's people by mentions (up to chapter row `last_row`, the spoiler guard) and the
    titles the question needs; None when the question is not about the whole book."""
    if not about_whole_book(question) or not lex.people:
        return None
    end = len(lex.titles) if last_row is None else last_row + 1
    counts = sorted(((n, sum(c[:end])) for n, c in lex.people.items()), key=lambda nc: (-nc[1], nc[0]))
    shown: list[tuple[str, int]] = []
    for n, c in counts:
        if c > 0 and not any(n in m or m in n for m, _ in shown):  # 墨白 is 沈墨白
            shown.append((n, c))
        if len(shown) >= top:
            break
    parts = ["书中出场最多的人物：" + "、".join(f"{n}（{c}次）" for n, c in shown) + "。"] if shown else []
    titles = [t for t in lex.titles[:end] if t]
    wanted = chapter_number(question)
    if wanted is not None:
        parts += [t for t in titles if chapter_number(t) == wanted][:1]
    elif re.search(r"讲|写|说|内容|大意|梗概|概括|关于", question):
        listed = ""
        for t in titles:
            if len(listed) + len(t) > max_chars:
                break
            listed += t + "；"
        if listed:
            parts.append("回目：" + listed.rstrip("；") + "。")
    if not parts:
        return None
    text = "".join(parts)[: max_chars + 100]
    return Passage(text, 0, "全书", 0, 0, 1.0, "book-card")
