"""Roleplay quality with the bundled model, with and without the book: in-character rate, grounding and
factual accuracy of a novel's characters, plus real transcripts of every mode and of a chatroom.

For each card, the same prompts are put to the character twice: grounded (the book's passages and the
character's own lines in the prompt) and ungrounded (the card alone). A reply is in character when it does not
break character (assistant persona, third person) and speaks in the first person. Grounding counts the proper
nouns of a reply (jieba: person, place and other proper-noun tags) that occur in the book, and, grounded, in the
passages it was shown. Factual accuracy asks eval questions about a character to that character ("悟空，你…")
and scores them like `rag eval` does, beside plain 书问 answers to the same questions.

    python bench/roleplay_quality.py --novel 西游记 --cards corpus/characters/西游记 \\
        --qa ../shared/eval/xiyouji-public.jsonl eval/xiyouji-heldout.jsonl \\
        --out docs/roleplay-quality.json --transcripts docs/roleplay-transcripts.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.machine import provenance

ROOT = Path(__file__).resolve().parent.parent

PROMPTS = ["你是谁？从哪里来？", "你最怕什么？", "你师父待你怎么样？", "说说你的兵器。", "你这辈子最得意的一件事是什么？",
           "你怎么看去西天取经这件事？", "你在取经以前是做什么的？", "路上哪个妖怪最难对付？"]
ADDRESS = {"孙悟空": "悟空", "猪八戒": "八戒", "沙悟净": "沙僧", "唐三藏": "师父"}
PROPER = {"nr", "nrt", "nrfg", "ns", "nz"}



def proper_nouns(text: str, own: set[str]) -> list[str]:
    import jieba.posseg as pseg

    return [w.word for w in pseg.cut(text) if w.flag in PROPER and len(w.word) >= 2 and w.word not in own]


def bigrams(text: str) -> set[str]:
    """The two-character words of a text (CJK only)."""
    return {text[i:i + 2] for i in range(len(text) - 1) if all("\u4e00" <= c <= "\u9fff" for c in text[i:i + 2])}


def voice_of(card: dict, book: str) -> set[str]:
    """Every two-character word the character says in the book: how they talk, as the book writes it."""
    from rag.ingest.speech import own_lines
    from roleplay.card import names

    return set().union(*(bigrams(ln.text) for ln in own_lines(book, names(card))))


def score(reply, card: dict, book: str, voice: set[str] = frozenset()) -> dict:
    from roleplay.card import names, shuwen
    from roleplay.chat import _FIRST_PERSON, breaks_character

    text = reply.text
    broke = breaks_character(text, card)
    self_ref = shuwen(card).get("self_ref") or ""
    nouns = proper_nouns(text, set(names(card)))
    shown = "".join(p.text for p in reply.passages)
    return {"text": text, "in_character": not broke and bool(_FIRST_PERSON.search(text) or (self_ref and self_ref in text)),
            "broke": broke, "self_ref": bool(self_ref and self_ref in text), "regenerated": reply.regenerated,
            "nouns": nouns, "nouns_in_book": sum(n in book for n in nouns),
            "nouns_in_passages": sum(n in shown for n in nouns), "first_token_s": reply.timings.get("first_token_s"),
            # the share of the reply's two-character words the character also says in the book (modern phrasing such
            # as 我们/非常/因为 is rare there; 甚么/老孙/这厮 are not)
            "book_voice": round(len(bigrams(text) & voice) / len(bigrams(text)), 3) if bigrams(text) and voice else None,
            "total_s": reply.timings.get("total_s")}


def as_asked_to(question: str, card: dict) -> str | None:
    """The question put to the character it is about ("孙悟空拜…" → "悟空，你拜…"), or None if not about them."""
    from roleplay.card import names

    for n in sorted(names(card), key=len, reverse=True):
        if len(n) >= 2 and n in question:
            return f"{ADDRESS.get(card['data']['name'], card['data']['name'])}，{question.replace(n, '你', 1)}"
    return None


def rate(rows: list[dict], key: str) -> float:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else 0.0


def summary(rows: list[dict]) -> dict:
    nouns = sum(len(r["nouns"]) for r in rows)
    ft = sorted(r["first_token_s"] for r in rows if r["first_token_s"] is not None)
    return {"replies": len(rows), "in_character": rate(rows, "in_character"), "self_ref": rate(rows, "self_ref"),
            "broke": rate(rows, "broke"), "regenerated": rate(rows, "regenerated"), "proper_nouns": nouns,
            "nouns_in_book": round(sum(r["nouns_in_book"] for r in rows) / nouns, 3) if nouns else None,
            "nouns_in_passages": round(sum(r["nouns_in_passages"] for r in rows) / nouns, 3) if nouns else None,
            "book_voice": round(sum(v) / len(v), 3) if (v := [r["book_voice"] for r in rows
                                                                if r.get("book_voice") is not None]) else None,
            "first_token_p50_s": ft[len(ft) // 2] if ft else None}


def transcripts(s, cards: dict, novel: str, turns: int) -> str:
    """Real replies of every mode for the first card, a new character, and a chatroom of all the cards."""
    from roleplay.card import new_card
    from roleplay.chat import Character
    from roleplay.chatroom import Chatroom

    order = list(ADDRESS)
    names = sorted(cards, key=lambda n: (n not in order, order.index(n) if n in order else 0))  # 孙悟空 first
    who = Character(s, cards[names[0]])
    out = [f"# 角色扮演实录：《{novel}》", "",
           f"Bundled model (Qwen2.5-Coder-1.5B-Instruct GGUF), temperature {s.temperature}; generated by "
           "`bench/roleplay_quality.py`, unedited.", ""]

    def show(title: str, message: str, query: str | None = None) -> None:
        r = who.say(message, query=query)
        chapters = sorted({p.chapter for p in r.passages})
        out.extend([f"## {title}", "", f"> **你**：{message}", "", f"**{who.name}**：{r.text}", "",
                    f"*书中段落：{'、'.join(f'第{c}回' for c in chapters) or '无'}；原话 {len(r.lines)} 句"
                    + (f"；第一次跳出角色（{r.regenerated}），已重说" if r.regenerated else "") + "*", ""])

    show("聊天", "师父又被妖怪抓走了，你打算怎么办？")
    topics = {"故事": "花果山", "信": "写给师父，说明自己为什么回花果山", "聊天": "蟠桃", "时间": "天刚亮", "关于": "天庭"}
    for task in who.template["tasks"]:
        show(f"任务 · {task}（{who.template['tasks'][task]['label']}）", who.task(task, topics.get(task, "")))
    if len(names) > 1:
        message, query = who.view_of(cards[names[1]])
        show(f"看法 · {who.name}看{names[1]}", message, query)
    stranger = Character(s, new_card("白衣书生", description="一个进京赶考的穷书生，胆小，爱掉书袋。",
                                     personality="迂腐、胆小、善良", shuwen={"self_ref": "小生"}))
    r = stranger.say("你要去哪里？")
    out.extend(["## 书外的新角色（只有卡片）", "", "> **你**：你要去哪里？", "", f"**白衣书生**：{r.text}", ""])
    room = Chatroom(s, list(cards.values()), "过火焰山，借不借芭蕉扇", "natural")
    for _ in room.run(turns):
        pass
    out.extend(["## 聊天室（四人，自然轮流）", "", room.to_markdown().split("\n", 2)[2], ""])
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--novel", default="西游记")
    ap.add_argument("--cards", type=Path, default=ROOT / "corpus" / "characters" / "西游记")
    ap.add_argument("--qa", type=Path, nargs="*", default=[])
    ap.add_argument("--max-questions", type=int, default=6, help="eval questions per character (default 6)")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--room-turns", type=int, default=8)
    ap.add_argument("--characters", help="only these cards (comma-separated names)")
    ap.add_argument("--adapter", default="", help="a character LoRA (.gguf) given to every chosen card")
    ap.add_argument("--facts", action=argparse.BooleanOptionalAction, default=True, help="ask the eval questions")
    ap.add_argument("--only-transcripts", action="store_true",
                    help="write the transcripts file and nothing else (no measurements, --out untouched)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "roleplay-quality.json")
    ap.add_argument("--transcripts", type=Path, default=ROOT / "docs" / "roleplay-transcripts.md",
                    help="transcripts file ('' = none)")
    args = ap.parse_args()

    from rag.answer import Asker
    from rag.evaluate import answer_correct, is_refusal, load_qa
    from rag.index.build import load_for
    from rag.settings import load_settings
    from roleplay.card import read_card
    from roleplay.chat import Character

    s = load_settings(temperature=args.temperature)
    cards = {c["data"]["name"]: c for c in (read_card(p) for p in sorted(args.cards.glob("*.json")))}
    if args.characters:
        cards = {n: cards[n] for n in args.characters.split(",")}
    for c in cards.values():
        c["data"]["extensions"]["shuwen"]["adapter"] = args.adapter or c["data"]["extensions"]["shuwen"]["adapter"]
    items = [x for path in args.qa for x in load_qa(path) if x.get("answers")]
    asker = Asker(s, args.novel)
    m = asker.retriever.manifest
    book = load_for(s, Path(m.source_path), m.name).original
    if args.only_transcripts:
        args.transcripts.write_text(transcripts(s, cards, args.novel, args.room_turns), encoding="utf-8")
        return 0
    t0 = time.time()
    rows: dict[str, list[dict]] = {"grounded": [], "ungrounded": []}
    facts: list[dict] = []
    for name, card in cards.items():
        voice = voice_of(card, book)
        for grounded in (True, False):
            who = Character(s, card, retriever=asker.retriever, grounded=grounded)
            for prompt in PROMPTS:
                row = score(who.say(prompt), card, book, voice)
                row.update(character=name, prompt=prompt)
                rows["grounded" if grounded else "ungrounded"].append(row)
                print(f"[{time.time() - t0:6.0f}s] {name} {'G' if grounded else 'U'} {row['in_character']:d} "
                      f"{row['text'][:60]!r}", flush=True)
        mine = [(it, q) for it in items if (q := as_asked_to(it["question"], card))][:args.max_questions * args.facts]
        for it, q in mine:
            rec = {"id": it["id"], "character": name, "question": q, "answers": it["answers"]}
            for grounded in (True, False):
                text = Character(s, card, retriever=asker.retriever, grounded=grounded).say(q).text
                rec["grounded" if grounded else "ungrounded"] = {"text": text, "correct": answer_correct(text, it)}
            plain = asker.ask(it["question"]).answer
            rec["shuwen"] = {"text": plain, "correct": answer_correct(plain, it), "refused": is_refusal(plain)}
            facts.append(rec)
            print(f"[{time.time() - t0:6.0f}s] fact {it['id']} G{rec['grounded']['correct']:d} "
                  f"U{rec['ungrounded']['correct']:d} S{rec['shuwen']['correct']:d}", flush=True)
    report = {
        "command": " ".join(["python", "bench/roleplay_quality.py"] + sys.argv[1:]), **provenance(s),
        "date": time.strftime("%Y-%m-%d"), "novel": args.novel, "temperature": args.temperature,
        "adapter": args.adapter,
        "characters": list(cards), "prompts": PROMPTS,
        "summary": {k: summary(v) for k, v in rows.items()},
        "per_character": {n: {k: summary([r for r in v if r["character"] == n]) for k, v in rows.items()}
                          for n in cards},
        "facts": {"questions": len(facts), **{k: round(sum(f[k]["correct"] for f in facts) / len(facts), 3)
                                             if facts else None for k in ("grounded", "ungrounded", "shuwen")}},
        "fact_records": facts, "replies": rows,
    }
    if str(args.transcripts) not in {"", "."}:
        print("writing transcripts…", flush=True)
        args.transcripts.write_text(transcripts(s, cards, args.novel, args.room_turns), encoding="utf-8")
    report["seconds"] = round(time.time() - t0)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("summary", "facts", "seconds")}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
