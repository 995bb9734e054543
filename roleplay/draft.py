"""Draft a card from the book: the character's passages summarised by the model, their own lines counted.

The draft is a starting point the reader edits (in the card file or the page); aliases come from the
reader (`--aliases`), the name without its surname, and — when the first-person word is known — the speakers
whose lines use it (老孙 → 行者, 大圣, 猴王, 悟空), kept only when the book uses them.
"""

from __future__ import annotations

from rag.aliases import discover_aliases
from rag.settings import Settings
from roleplay.card import new_card
from roleplay.chat import Character

DRAFT_PROMPT = ("下面是小说《{novel}》中关于{char}的段落。\n{passages}\n\n"
                "请根据这些段落，{ask}只写内容，不要标题，不要编造段落里没有的事。")
ASK = {"identity": "用一句话说明{char}是什么人（身份、来历）。",
       "description": "用两三句话概括{char}的经历和在书中做的事。",
       "personality": "用几个词概括{char}的性格和说话特点。"}


def aliases_in_book(text: str, name: str, given: list[str]) -> list[str]:
    """`given` aliases plus the name without a one-character surname, kept when the book uses them."""
    cands = list(given) + ([name[1:]] if len(name) == 3 else [])
    return [a for i, a in enumerate(cands) if a and a != name and a not in cands[:i] and a in text]


def draft_card(settings: Settings, novel: str, name: str, aliases: list[str] | None = None, self_ref: str = "",
               use_model: bool = True, backend=None) -> tuple[dict, dict]:
    """(card, report): a draft card for `name` of `novel`, and what went into it (lines found, passages)."""
    from pathlib import Path

    from rag.index.build import load_for

    probe = Character(settings, new_card(name, shuwen={"novel": novel}), backend=backend)
    m = probe.asker.retriever.manifest
    text = load_for(settings, Path(m.source_path), m.name).original
    found_aliases = discover_aliases(text, self_ref)
    given = list(aliases or []) + [r["name"] for r in found_aliases]
    card = new_card(name, tags=[novel], creator="书问 draft",
                    shuwen={"novel": novel, "aliases": aliases_in_book(text, name, given), "self_ref": self_ref})
    who = Character(settings, card, backend=backend)
    found, _ = who.lines()
    passages = who.passages(f"{name}是什么人 {name}的经历")
    fields = {}
    if use_model and passages:
        joined = "\n".join(p.text for p in passages)
        for key, ask in ASK.items():
            msg = DRAFT_PROMPT.format(novel=novel, char=name, passages=joined, ask=ask.format(char=name))
            fields[key] = who.clean(who.backend.complete([{"role": "user", "content": msg}], max_tokens=120))
    d = card["data"]
    d["description"] = fields.get("description", "")
    d["personality"] = fields.get("personality", "")
    card["data"]["extensions"]["shuwen"]["identity"] = fields.get("identity", "")
    if found:
        d["first_mes"] = found[0]["text"]
        d["mes_example"] = "\n".join(f"<START>\n{{{{char}}}}: {x['text']}" for x in found[:: max(1, len(found) // 3)][:3])
    report = {"lines": len(found), "aliases": card["data"]["extensions"]["shuwen"]["aliases"],
              "discovered_aliases": found_aliases,
              "passages": [p.chapter_title for p in passages]}
    return card, report
