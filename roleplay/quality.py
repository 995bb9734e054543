"""What a reader notices in a character's reply, as rules: an echo, a loop, an empty turn, a reply that does not
answer, the user called by the character's own name, lore recited as a reply.

Each detector is a plain function of the texts, so the repair stages (roleplay/chat.py) and the measurements
(bench/roleplay_quality.py) judge with the same rule.
"""

from __future__ import annotations

import re

from rag.answer import BONUS_KINDS
from rag.ingest.decode import to_simplified
from rag.kinds import asks_for, has_kind

_CJK = re.compile(r"[\u4e00-\u9fff]")
# words that carry no content of their own: a reply made of the message's characters plus these says nothing new
_FILLER = set("我你他她它们的了呢吗啊吧呀哦嘛么就也都还又是在有这那个一些对会要想能可得着过把被给让") | set("俺咱吾")
_GREETING = re.compile(r"^(?:[\u4e00-\u9fff]{1,6}[，,])?(?:大家好|你好|你们好|各位好|谢谢你?的?(?:解释|回答|提醒)?|是的|好的|对|嗯|没错"
                       r"|说得对|我同意|徒弟们|师父|哥哥|大师兄|老猪|老孙)[，,。！!～~…\s]*$")
# a clause that moves nothing: agreeing, thanking, saying one understood, asking to go on (是的 / 我明白你的意思了 /
# 感谢您的解答 / 咱们继续吧), or a bare address (老猪 / 师弟啊)
_FILLER_CLAUSE = re.compile(r"(?:嗯|哦|啊|哈+|好|好的|好啦|好了|是|是的|对|对的|没错|说得对|(?:我)?同意|(?:我)?(?:明白|懂|知道)(?:了|你的意思了?)?"
                            r"|(?:咱们|我们)?继续吧?|(?:感谢|谢谢|多谢)[\u4e00-\u9fff]*|不用谢|不客气|(?:大家|你|你们|各位)好"
                            r"|[\u4e00-\u9fff]{1,2}|[\u4e00-\u9fff]{1,3}[啊呀啦])")
_HELLO = re.compile(r"^(?:哈+[，,！!]?\s*)?(?:大家好|你们好|各位好|诸位好)[，,！!。～~\s]*(?:(?:我是|我叫)[\u4e00-\u9fff]{1,5}[，,。！!]\s*)?")
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?…”」]*")
# not knowing, in a character's words or the book's (不知不觉 / 别忘了 / 并未 say nothing of the kind)
_UNKNOWN = re.compile(r"记不[清真得起]|不记得|想不起|说不[上准清]|不清楚|不晓得|不知道|不知(?=[。！？!?…，,]|$)|不敢乱说|没听说|忘记了"
                      r"|书[中里](?:并)?没有|原文(?:中)?(?:并)?没有|没有(?:提到|提及|写到|记载)|不得而知|无法(?:回答|确定)")
_QUESTION = re.compile(r"[？?]|谁|什么|哪|几|多少|怎么|为什么|为何|如何|是否|吗|呢")


def cjk(text: str) -> str:
    """The Chinese characters of a text, in order."""
    return "".join(_CJK.findall(text))


def new_chars(reply: str, seen: str, own: tuple[str, ...] = ()) -> int:
    """How many Chinese characters of `reply` are neither in `seen` nor filler nor one of the character's own
    names (`own`): what the reply adds."""
    for n in sorted(own, key=len, reverse=True):
        if n:
            reply = reply.replace(n, "")
    have = set(cjk(seen)) | _FILLER
    return sum(c not in have for c in cjk(reply))


def is_echo(reply: str, message: str, own: tuple[str, ...] = ()) -> bool:
    """The reply restates the message: it holds most (≥ 60 %) of the message's content characters and adds at most
    one of its own (师父又被妖怪抓走了，你打算怎么办？ → 师父被妖怪抓走了，我打算怎么办？; 你怎么看天庭？ → 老孙，你对
    天庭怎么看呢？). A short answer adds a name or a number (你的剑叫什么？ → 在下的剑名叫寒汀。) and is no echo."""
    content = set(cjk(message)) - _FILLER
    if not cjk(reply) or not content:
        return False
    shared = len(content & set(cjk(reply))) / len(content)
    return shared >= 0.6 and new_chars(reply, message, own) <= 1


def loop_at(text: str, n: int = 8) -> int | None:
    """Where a loop starts repeating: the start of the sentence holding the second copy of a sentence (≥ 4
    characters) or of an `n`-character run; None when nothing repeats."""
    starts = [m.start() for m in _SENTENCE.finditer(text)]
    seen: set[str] = set()
    for m in _SENTENCE.finditer(text):
        key = re.sub(r"\W", "", m.group())
        if len(key) >= 4 and key in seen:
            return m.start()
        seen.add(key)
    runs: dict[str, int] = {}
    for i in range(len(text) - n + 1):
        run = text[i:i + n]
        if not all(_CJK.match(c) or c in "，、“”" for c in run) or len(cjk(run)) < n - 2:
            continue
        if run in runs and i >= runs[run] + n:  # a second copy, not an overlap of the first
            cut = max((s for s in starts if s <= i), default=0)
            return cut if cut > runs[run] else i
        runs.setdefault(run, i)
    return None


def is_loop(text: str) -> bool:
    """A sentence said twice, or an 8-character run repeated (the 1.5B model's 蟠桃…意义吗？ eleven times)."""
    return loop_at(text) is not None


def cut_loop(text: str) -> str:
    """The text up to its second repetition (the first copy stays)."""
    at = loop_at(text)
    return text if at is None else text[:at].rstrip("，、 \n")


def is_empty_turn(text: str, previous: list[str], least: int = 10, topic: str = "") -> bool:
    """A chatroom turn that moves nothing: only greetings, agreement or thanks (是的，我明白。感谢您的解答。), or fewer
    than `least` Chinese characters outside the two-character words the last two turns (and the room's `topic`)
    already said (俺老猪不想去火焰山 after 火焰山热得很，俺老猪可不想去 adds none; 我在渡口也见过那个戴斗笠的人 after a
    line about 戴斗笠的客人 adds 我在渡口也)."""
    clauses = [c for c in re.split(r"[^\u4e00-\u9fff]+", text) if c]
    if _GREETING.match(text.strip()) or (clauses and all(_FILLER_CLAUSE.fullmatch(c) for c in clauses)):
        return True
    # a greeting and a self-introduction in front (大家好，我是孙悟空。…) add nothing after the opening
    text = _HELLO.sub("", text.strip())
    said = {w for line in [*previous[-2:], topic] for part in re.split(r"[^\u4e00-\u9fff]+", line)
            for w in (part[i:i + 2] for i in range(len(part) - 1))}
    new = 0
    for part in re.split(r"[^\u4e00-\u9fff]+", text):
        new += sum(part[max(0, i - 1):i + 1] not in said and part[i:i + 2] not in said for i in range(len(part)))
    return new < least


def says_unknown(reply: str) -> bool:
    """The reply says it does not know or that the book does not tell (记不清 / 不知道 / 书里没有写)."""
    return bool(_UNKNOWN.search(to_simplified(reply)))


def is_question(message: str) -> bool:
    """The message asks something (a question mark or a question word)."""
    return bool(_QUESTION.search(message))


def answers(reply: str, message: str, own: tuple[str, ...] = ()) -> bool | None:
    """Whether the reply answers the message (None when the message asks nothing): not an echo, and, when the
    question asks for a kind (a number, a place), something of that kind the question does not hold; otherwise
    at least 8 new Chinese characters."""
    if not is_question(message):
        return None
    if is_echo(reply, message, own):
        return False
    kind = asks_for(message, BONUS_KINDS)
    if kind is not None:
        return has_kind(reply, kind, message)
    return new_chars(reply, message, own) >= 8


def calls_user_self(reply: str, own: tuple[str, ...]) -> str:
    """The character's own name or self-reference used to address the user (老孙啊，你… / 悟空，你…), or ""."""
    alts = "|".join(re.escape(n) for n in sorted({n for n in own if n}, key=len, reverse=True))
    if not alts:
        return ""
    m = re.search(rf"(?:^|[。！？!?\n”])\s*({alts})(?:啊|呀|哥|兄|老弟)?\s*[，,！!]\s*你", reply)
    return m.group(1) if m else ""


def recites_lore(reply: str, message: str, entries: list[dict], n: int = 8) -> bool:
    """The reply repeats an `n`-character run of a lore entry whose keys the message never mentions: background
    given as the answer (金箍棒…一万三千五百斤 in reply to 你最怕什么？)."""
    for e in entries:
        if any(k and k in message for k in e.get("keys", [])):
            continue
        body = cjk(e.get("content", ""))
        plain = cjk(reply)
        if any(body[i:i + n] in plain for i in range(len(body) - n + 1)):
            return True
    return False
