"""Who says what in the book: quoted speech attributed to a name or an alias (行者笑道：“……”).

Roleplay shows the model a few of a character's own lines to style a reply (the ChatHaruhi method); the
fine-tuning kit takes the lines said to them as prompts; alias discovery reads who says 老孙.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass

_VERBS = "道|说|叫道|笑道|骂道|问道|喝道|答道|叹道|哭道|喜道|怒道|应道|叫|云|曰"
_QUOTE = re.compile(r"“([^“”]{2,300})”")
MAX_GAP = 8  # characters allowed between the speaker and 道 (闻言, 笑嘻嘻的, 上前)
# what may stand right before the speaker's name: punctuation, a line start, or a word that ends a clause;
# anything else means the name is the tail of another one (惠岸行者道 is not 行者 speaking) or is spoken to
# (八戒向行者道, 谢了行者道)
_BEFORE = set("，。！？；：、\n 　”』」…—") | set("那这又便却只就因正忽是也但乃遂即时")


@dataclass
class Line:
    """One quoted line and where it stands."""

    speaker: str  # the name or alias the book used
    text: str
    start: int  # offset of the quote in the book's text

    def to_dict(self) -> dict:
        return asdict(self)


def speaker_pattern(names: list[str]) -> re.Pattern:
    """`NAME …道：“` for any of `names` (longest first, so 孙行者 wins over 行者)."""
    alts = "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True) if n)
    # the gap may hold one clause after a verb of hearing (行者闻言，道); any other comma could hand the line to
    # someone else (行者闭着眼乱摸，八戒笑道)
    gap = rf"(?:[^“”。！？\n：:，]{{0,{MAX_GAP}}}?|(?:闻言|闻之|闻说|听了|听得|听说|见了|见说)，[^“”。！？\n：:，]{{0,{MAX_GAP}}}?)"
    return re.compile(rf"({alts}){gap}(?:{_VERBS})[：:]\s*“")


def own_lines(text: str, names: list[str], min_chars: int = 4) -> list[Line]:
    """Every line the book attributes to one of `names`, in reading order (a line longer than 300 is skipped)."""
    if not any(names):
        return []
    out = []
    for m in speaker_pattern(names).finditer(text):
        if m.start() > 0 and text[m.start() - 1] not in _BEFORE:
            continue
        q = _QUOTE.match(text, m.end() - 1)
        if q and len(q.group(1)) >= min_chars:
            out.append(Line(m.group(1), q.group(1).strip(), q.start()))
    return out


def speakers(text: str, top: int = 50) -> list[tuple[str, int]]:
    """Who speaks most (the 1–4 characters right before …道：“), for drafting cards and aliases."""
    from collections import Counter

    counts: Counter = Counter()
    for m in re.finditer(rf"([\u4e00-\u9fff]{{2,4}}?)(?:闻言|笑嘻嘻的|上前|连忙|大惊|又)?(?:{_VERBS})[：:]\s*“", text):
        counts[m.group(1)] += 1
    return counts.most_common(top)


def lines_by_speaker(text: str, min_count: int = 3) -> dict[str, list[str]]:
    """Every attributed line, grouped by who says it (那呆子 → 呆子; 行者听见, 三藏合掌 → 行者, 三藏)."""
    raw = dict(speakers(text, 1000))

    def fold(name: str) -> str:
        name = name.lstrip("那这")
        for n in range(2, len(name)):  # a name plus what they did (行者暗想) belongs to the name
            if raw.get(name[:n], 0) >= raw.get(name, 0):
                return name[:n]
        return name

    names = sorted({fold(n) for n, c in raw.items() if c >= min_count})
    out: dict[str, list[str]] = {}
    for ln in own_lines(text, names, min_chars=2):
        out.setdefault(ln.speaker, []).append(ln.text)
    return out


_HEADING = re.compile(r"\n\s*第[一二三四五六七八九十百千零〇\d]+[回章]")
_SAID_BY = re.compile(rf"([^，。！？；：:“”\n]{{1,12}}?)(?:{_VERBS})[：:]\s*$")


def answered_lines(text: str, names: list[str], window: int = 200) -> list[dict]:
    """(the line said just before → the character's own line) pairs from the book's quoted speech.

    The book's own dialogue, no model needed: the prompt is the last quoted line before one of the character's lines,
    when it stands at most `window` characters before, in the same chapter, and is not the character's own.
    """
    own = own_lines(text, names)
    own_starts = {ln.start for ln in own}
    quotes = [(q.start(), q.end(), q.group(1)) for q in _QUOTE.finditer(text)]
    starts = [q[0] for q in quotes]
    out = []
    for ln in own:
        i = bisect.bisect_left(starts, ln.start) - 1
        if i < 0:
            continue
        qs, qe, said = quotes[i]
        between = text[qe:ln.start]
        if qs in own_starts or len(between) > window or _HEADING.search(between) or len(said.strip()) < 2:
            continue
        # who said the line before: the clause that introduces it (八戒笑道：); when it names the character at all
        # (孙大圣又道, 八戒向行者道) the pair is left out rather than risk the character answering itself
        who = _SAID_BY.search(text, max(0, qs - 16), qs)
        if who and any(n in who.group(1) for n in names if n):
            continue
        out.append({"input": said.strip(), "output": ln.text, "speaker": who.group(1).strip() if who else "",
                    "start": ln.start})
    return out
