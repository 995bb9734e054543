"""Alias groups read from the book, no model: who else a name is (行者 = 大圣 = 悟空; 刘备 = 玄德; 诸葛亮 = 孔明).

Readers say 孙悟空 where the scene says 行者 or 大圣, and 诸葛亮 where it says 孔明. Two signals find the groups:
a first-person word that belongs to one character (老孙, 贫僧: whoever says it under another name is them), and
the courtesy-name formula of the classics (姓刘，名备，字玄德).
"""

from __future__ import annotations

import re

from rag.ingest.speech import lines_by_speaker

# first-person words a character may own; which ones a book really gives one person is measured, not assumed
_SELF_WORDS = re.compile(r"老[\u4e00-\u9fff]|贫僧|贫道|贫尼|洒家|寡人|孤家|老身|老夫|老汉|妾身|奴家|本官|本王|本宫|本帅|小生|小僧")
_COURTESY = re.compile(r"([复覆]姓[\u4e00-\u9fff]{2}|姓[\u4e00-\u9fff])，?名([\u4e00-\u9fff]{1,2}?)，?字([\u4e00-\u9fff]{2})"
                       r"(?:，后改(?:字)?([\u4e00-\u9fff]{2}))?")
# 刘表，字景升: the name before 字 is its last two or three characters, whichever the book uses as a name
_NAMED_STYLE = re.compile(r"([\u4e00-\u9fff]{2,4})，字([\u4e00-\u9fff]{2})(?:，后改(?:字)?([\u4e00-\u9fff]{2}))?")
_COMPOUND = ("司马", "诸葛", "夏侯", "欧阳", "公孙", "皇甫", "太史", "上官", "东方", "令狐", "尉迟", "长孙", "宇文",
             "司徒", "淳于", "南宫", "钟离", "百里", "呼延", "慕容", "独孤", "轩辕", "端木", "东郭", "西门")


def discover_aliases(text: str, self_ref: str, min_lines: int = 10, min_hits: int = 3, ratio: float = 0.4,
                     said: dict[str, list[str]] | None = None) -> list[dict]:
    """Speakers whose lines say the character's own first-person word, as often as the character's main name does.

    A character's 俺老孙 or 贫僧 is theirs alone: whoever says it under another name is the same character
    (measured on 西游记: 老孙 → 大圣 0.22, 猴王 0.18, 行者 0.16, 悟空 0.09 of their lines; 贫僧 → 三藏 0.10,
    长老 0.07, 唐僧 0.06, and 菩萨 0.03, left out by `ratio`). The bar is `ratio` × the share of the speaker
    who says it most, so a book's own habits set it; a word many speakers say gives no aliases.
    """
    if not self_ref:
        return []
    rows, total, talkers = [], 0, 0
    for who, lines in (said if said is not None else lines_by_speaker(text)).items():
        hits = sum(self_ref in x for x in lines)
        total, talkers = total + hits, talkers + (len(lines) >= min_lines)
        if len(lines) >= min_lines and hits >= min_hits:
            rows.append({"name": who, "share": round(hits / len(lines), 3), "lines": len(lines), "hits": hits})
    if not rows:
        return []
    main = max(rows, key=lambda r: r["hits"])
    if main["hits"] < 0.3 * total or len(rows) > talkers / 4:  # a word many say (我, 吾, 某) is nobody's own
        return []
    return sorted((r for r in rows if r["share"] >= ratio * main["share"]), key=lambda r: -r["hits"])


def self_word_groups(text: str, min_lines: int = 30, min_hits: int = 10, min_share: float = 0.05) -> list[set[str]]:
    """Groups of speakers who share a first-person word only they say (老孙: 行者, 大圣, 悟空, 猴王)."""
    said = lines_by_speaker(text)
    tried: set[str] = set()
    groups = []
    for lines in said.values():
        if len(lines) < min_lines:
            continue
        counts: dict[str, int] = {}
        for line in lines:
            for w in set(_SELF_WORDS.findall(line)):
                counts[w] = counts.get(w, 0) + 1
        for w, n in counts.items():
            if n < min_hits or w in tried:
                continue
            tried.add(w)
            rows = discover_aliases(text, w, said=said)
            # an owned word is in a good share of its owner's lines (老孙 0.16, 老猪 0.07, 贫僧 0.10); 老儿 (0.008)
            # is only a word two talkative characters both use
            if len(rows) >= 2 and rows[0]["share"] >= min_share:
                groups.append({r["name"] for r in rows})
    return groups


def courtesy_groups(text: str, min_uses: int = 3) -> list[set[str]]:
    """{full name, courtesy name} from 姓刘，名备，字玄德 (覆姓诸葛，名亮，字孔明; 刘表，字景升), kept when the book uses both.

    A later courtesy name wins (姓关名羽，字长生，后改云长: the book calls him 云长). In the short form the name
    before 字 must also be met as surname + courtesy name somewhere (刘景升): two men share a courtesy name
    (郭嘉 and 刘理 are both 奉孝), and only the one the book calls by it belongs with it.
    """
    groups = []
    for m in _COURTESY.finditer(text):
        surname = m.group(1)[-2:] if m.group(1)[0] in "复覆" else m.group(1)[-1]
        full, style = surname + m.group(2), m.group(4) or m.group(3)
        if text.count(full) >= min_uses and text.count(style) >= min_uses:
            groups.append({full, style} | ({surname + style} if text.count(surname + style) >= min_uses else set()))
    for m in _NAMED_STYLE.finditer(text):
        before, style = m.group(1), m.group(3) or m.group(2)
        two, three = before[-2:], before[-3:]
        # 子曹植 is 曹植 (曹植 stands alone far more often); 司马昭 is 司马昭 (马昭 never stands alone)
        full = three if len(before) >= 3 and text.count(three) >= 0.5 * text.count(two) else two
        surname = full[:2] if len(full) == 3 and full[:2] in _COMPOUND else full[0]
        if full[0] in "名字姓" or surname + style not in text:
            continue
        if text.count(full) >= min_uses and text.count(style) >= min_uses:
            groups.append({full, style} | ({surname + style} if text.count(surname + style) >= min_uses else set()))
    return groups


def alias_groups(text: str) -> list[list[str]]:
    """Every alias group the book shows, overlapping groups merged, each sorted."""
    merged: list[set[str]] = []
    for g in self_word_groups(text) + courtesy_groups(text):
        for other in [m for m in merged if m & g]:
            merged.remove(other)
            g = g | other
        merged.append(g)
    return sorted(sorted(g) for g in merged)


def expand(tokens: list[str], groups: list[list[str]], weight: float) -> dict[str, float]:
    """Query tokens with weight 1, plus the other names of any alias group a token names, with `weight`.

    A token one character longer than a group's name and ending with it (孙悟空 for 悟空, 唐三藏 for 三藏) names
    that group too: full names are often not what the book's attributions use.
    """
    out = {t: 1.0 for t in tokens}
    if weight <= 0:
        return out
    for _t, g in named_groups(tokens, groups):
        for n in g:
            out.setdefault(n, weight)
    return out


def named_groups(tokens: list[str], groups: list[list[str]]) -> list[tuple[str, list[str]]]:
    """(token, group) for each question token that names an alias group (the rule of `expand`)."""
    out = []
    for t in tokens:
        for g in groups:
            if any(t == n or (len(n) >= 2 and len(t) == len(n) + 1 and t.endswith(n)) for n in g):
                out.append((t, g))
                break
    return out


def as_the_book_says(question: str, tokens: list[str], groups: list[list[str]], idf: dict[str, float]) -> str:
    """The question with each character named as the book names them most often (孙悟空 → 行者)."""
    for t, g in named_groups(tokens, groups):
        common = min((n for n in g if n in idf), key=lambda n: idf[n], default=None)
        if common and common != t:
            question = question.replace(t, common)
    return question
