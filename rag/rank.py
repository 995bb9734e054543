"""Rank, don't generate, the key string: the evidence's names, places and numbers, scored by the model.

The 1.5B model restates the question and fills its slot (宝象国公主百花羞的前世在天上是…) with a name from the
passages, and often the wrong one. Small models rank better than they generate: each candidate of the asked
kind that stands in the evidence is scored by the model's log-probability of filling that slot, on the cached
prompt, and the best one is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# the wh-word of a question and the kind of answer it asks for; the slot is where the answer stands when the
# question is said back as a statement
_SLOTS = [
    ("number", re.compile(r"多少[个只年天日岁次位人件匹株斤里丈尺两张把箱口头条座间扇卷]?|几[个只年天日岁次位人件匹株斤里丈尺张把箱口头条座间扇卷]")),
    ("place", re.compile(r"什么地方|哪里|哪儿|何处|哪座[山洞寺城国庙宫殿]?|哪个(?:国家|地方|国|山|洞|寺|城|府|县|村|庄)")),
    ("name", re.compile(r"叫什么名字|叫做什么|叫什么|什么名字|什么名号|是谁|哪位[\u4e00-\u9fff]{0,2}?(?=[的送给借用派做？?，,])|谁")),
    ("thing", re.compile(r"(?<!为)什么(?:[\u4e00-\u9fff]{0,2}$|东西|宝贝|兵器|法宝|法术|身份|动物|妖精)")),
]
_NUMBER = re.compile(r"[零〇一二三四五六七八九十百千万两]{1,12}(?:余)?[个只年天日岁次位人件匹株斤里丈尺张把箱口头条座间扇卷]?")
_PLACE_END = "山洞寺国城府县村河岭庄宫殿江湖海州镇关峡亭渡岛院观庙桥坡林"
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_QUOTED = re.compile(r"[“「『]([^”」』]{2,8})[”」』]")
_NAME_FLAGS = {"nr", "nrfg", "nrt", "ns", "nz", "nt", "n", "x"}  # x: the novel's own discovered words
# a full name jieba does not know (钱有道, 胡德茂) starts with a common surname; the model weeds out the rest
_SURNAME_NAME = re.compile(r"(?=([赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜谢邹苏潘葛范彭鲁马"
                           r"方任袁柳唐薛雷贺倪汤罗毕郝安常于傅齐康伍余顾孟黄刘胡徐高林郭梁宋邓萧程曾董田袁]"
                           r"[\u4e00-\u9fff]{2}))")


@dataclass
class Slot:
    """Where the answer goes when the question is said back: `prefix` + answer + `suffix`."""

    kind: str
    prefix: str
    suffix: str


def find_slot(question: str) -> Slot | None:
    """The question's answer slot, when its wording asks for a name, place or number (else None)."""
    q = question.strip().rstrip("？?。 ")
    for kind, pat in _SLOTS:
        m = pat.search(q)
        if m:
            prefix, suffix = q[: m.start()], q[m.end():]
            if m.group()[0] in "叫是":  # 叫什么 / 是谁: the verb stays, the answer follows it
                prefix += m.group()[0]
            return Slot(kind, prefix, suffix)
    return None


def candidates(evidence: str, question: str, kind: str, words: set[str], limit: int = 40, cut=None) -> list[str]:
    """Strings of the asked kind that stand in the evidence and not in the question, in order of first use.

    `cut` is a part-of-speech cutter (jieba.posseg's, or one on the novel's own dictionary).
    """
    found: list[str] = []
    if kind == "number":
        found = [m.group() for m in _NUMBER.finditer(evidence) if len(m.group()) >= 2 or m.group() in "十百千万"]
    else:
        if cut is None:
            import jieba.posseg as pseg

            cut = pseg.cut
        tagged = list(cut(evidence))
        prev = None
        for w in tagged:
            if w.flag in _NAME_FLAGS and len(w.word) >= 2:
                found.append(w.word)
            if prev is not None and prev.flag in _NAME_FLAGS and w.flag in _NAME_FLAGS:
                found.append(prev.word + w.word)  # jieba cuts 侍香玉女 and 北海龙王 in two
            prev = w
        found += [w for w in words if w in evidence]
        found += _QUOTED.findall(evidence)
        if kind == "name":
            found += _SURNAME_NAME.findall(evidence)
        if kind == "place":
            places = {w.word for w in tagged if w.flag == "ns"}
            found = [w for w in found if w[-1] in _PLACE_END or w in places]
    out: list[str] = []
    for w in found:
        if _HAN.fullmatch(w) and w not in out and w not in question:
            out.append(w)
    return sorted(out, key=evidence.find)[:limit]


def best(scores: dict[str, float], margin: float = 0.0) -> str | None:
    """The top candidate, when it leads the next by more than `margin` nats."""
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked or (len(ranked) > 1 and ranked[0][1] - ranked[1][1] <= margin):
        return None
    return ranked[0][0]


def statement(slot: Slot, answer: str) -> str:
    """The question said back with its slot filled: 孙悟空的金箍棒重一万三千五百斤。"""
    return f"{slot.prefix}{answer}{slot.suffix}。"
