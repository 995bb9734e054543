"""What a question asks for (a number, a time, a place, a person), and whether a piece of text holds that kind."""

from __future__ import annotations

import re
from collections.abc import Iterable

# what a question asks for, and what a window holding that kind of answer looks like: a 多少 question needs a
# window with a number, a 哪里 question one with a place name, a 谁 question one with a name of the book
_ASKS = [
    ("number", re.compile(r"多少|几[个只年天日岁次位人件匹株斤里丈尺两张把箱口头条座间员万千百十名路]|多大|多远|多重|多长|多久|第几")),
    ("time", re.compile(r"什么时候|何时|哪一年|哪年|几时|哪天|哪一天|什么时辰")),
    ("place", re.compile(r"哪里|哪儿|何处|什么地方|哪座|哪个(?:国|山|洞|寺|城|府|县|村|地方|庄|郡|州|关)|在哪|住在|去了哪|逃往|投奔")),
    ("person", re.compile(r"谁|哪位|何人|什么人|哪个人|姓什么|姓名")),
]
_NUM = r"[零〇一二三四五六七八九十百千万两]"
_LOOKS = {
    "number": re.compile(rf"{_NUM}{{2,}}|[一二三四五六七八九十两半][个只年天日岁次位人件匹株斤里丈尺张把箱口头条座间员名路]|\d+"),
    "time": re.compile(rf"{_NUM}+[年月日更]|[春夏秋冬][天季]?|次日|当夜|当晚|是夜|三更|五更|黄昏|天明|清晨|[子丑寅卯辰巳午未申酉戌亥]时"),
    "place": re.compile(r"[\u4e00-\u9fff]{1,4}?(?:山|洞|寺|国|城|府|县|村|河|岭|庄|宫|殿|江|湖|海|州|镇|关|峡|亭|渡|岛|院|观|庙|桥|坡|林|郡|营|寨|谷|口|原|堂|楼|阁|铺|店|当|栈)"),
}


def asks_for(question: str, among: tuple[str, ...] | None = None) -> str | None:
    """The kind of answer a question wants (number, time, place, person, or only those `among`), when its
    wording says so."""
    return next((kind for kind, pat in _ASKS if (among is None or kind in among) and pat.search(question)), None)


def has_kind(piece: str, kind: str | None, question: str, names: Iterable[str] = ()) -> bool:
    """Whether `piece` holds something of `kind` that the question itself does not already say."""
    if kind is None:
        return False
    if kind == "person":
        return any(n in piece and n not in question for n in names)
    return any(m.group() not in question for m in _LOOKS[kind].finditer(piece))
