"""Roleplay quality with the bundled model as a reader would judge it, before vs after in the same run: echo, loop,
answers the message, the user called by the character's own name, lore recited as a reply, chatroom empty turns,
facts right on the eval's character questions (beside plain 书问), in character, grounding, first token.

Two systems share the run: `before` (roleplay_facts, roleplay_repair and the chatroom's scene plan off, no
presence/frequency penalty: the roleplay of issue 22's report) and `after` (today's defaults). The same prompts go
to each of the novel's cards: 8 free questions, the 7 tasks and a view of another character (for the first
`--task-characters` cards), and three chatrooms of all the cards, `--room-turns` turns each, on three topics. The
rules are roleplay/quality.py's, so the repair stages and this measurement judge alike.

    python bench/roleplay_quality.py --novel 西游记 --cards corpus/characters/西游记 \
        --qa ../shared/eval/xiyouji-public.jsonl eval/xiyouji-heldout.jsonl \
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


def score(reply, card: dict, book: str, voice: set[str] = frozenset(), message: str = "") -> dict:
    from roleplay.card import names, shuwen
    from roleplay.chat import _FIRST_PERSON, breaks_character
    from roleplay.quality import answers, calls_user_self, is_echo, is_loop, recites_lore

    text = reply.text
    broke = breaks_character(text, card)
    self_ref = shuwen(card).get("self_ref") or ""
    own = tuple(dict.fromkeys([*names(card), self_ref]))
    nouns = proper_nouns(text, set(names(card)))
    shown = "".join(p.text for p in reply.passages)
    lore = (card["data"].get("character_book") or {}).get("entries", [])
    return {"text": text, "in_character": not broke and bool(_FIRST_PERSON.search(text) or (self_ref and self_ref in text)),
            "broke": broke, "self_ref": bool(self_ref and self_ref in text), "regenerated": reply.regenerated,
            "echo": is_echo(text, message, own), "loop": is_loop(text), "answers": answers(text, message, own),
            "calls_user_self": calls_user_self(text, own), "recites_lore": recites_lore(text, message, lore),
            "changed": list(getattr(reply, "changed", [])),
            "nouns": nouns, "nouns_in_book": sum(n in book for n in nouns),
            "nouns_in_passages": sum(n in shown for n in nouns), "first_token_s": reply.timings.get("first_token_s"),
            "first_visible_s": reply.timings.get("first_visible_s"),
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


def p50(values: list) -> float | None:
    v = sorted(x for x in values if x is not None)
    return v[len(v) // 2] if v else None


def summary(rows: list[dict]) -> dict:
    nouns = sum(len(r["nouns"]) for r in rows)
    judged = [r for r in rows if r.get("answers") is not None]
    fired: dict[str, int] = {}
    for r in rows:
        for stage in r.get("changed", []):
            fired[stage] = fired.get(stage, 0) + 1
    return {"replies": len(rows), "echo": rate(rows, "echo"), "loop": rate(rows, "loop"),
            "answers": rate(judged, "answers") if judged else None, "questions": len(judged),
            "calls_user_self": rate(rows, "calls_user_self"), "recites_lore": rate(rows, "recites_lore"),
            "in_character": rate(rows, "in_character"), "self_ref": rate(rows, "self_ref"),
            "broke": rate(rows, "broke"), "regenerated": rate(rows, "regenerated"), "stages_fired": fired,
            "proper_nouns": nouns,
            "nouns_in_book": round(sum(r["nouns_in_book"] for r in rows) / nouns, 3) if nouns else None,
            "nouns_in_passages": round(sum(r["nouns_in_passages"] for r in rows) / nouns, 3) if nouns else None,
            "book_voice": round(sum(v) / len(v), 3) if (v := [r["book_voice"] for r in rows
                                                                if r.get("book_voice") is not None]) else None,
            "first_token_p50_s": p50([r["first_token_s"] for r in rows]),
            "first_visible_p50_s": p50([r.get("first_visible_s") for r in rows])}


TOPICS = ["过火焰山，借不借芭蕉扇", "三打白骨精", "车迟国斗法"]
TASK_TOPICS = {"故事": "花果山", "信": "写给师父，说明自己为什么回花果山", "聊天": "蟠桃", "时间": "天刚亮", "关于": "天庭"}


def prompts_for(who, cards: dict, with_tasks: bool) -> list[tuple[str, str, str | None]]:
    """(mode, message, retrieval query) for one character: the free questions, then the tasks and a view."""
    out = [("聊天", p, None) for p in PROMPTS]
    if with_tasks:
        out += [(f"任务·{t}", who.task(t, TASK_TOPICS.get(t, "")), None) for t in who.template["tasks"]]
        other = next(n for n in cards if n != who.name)
        message, query = who.view_of(cards[other])
        out.append(("看法", message, query))
    return out


def rooms(s, cards: dict, turns: int, log) -> list[dict]:
    """Three chatrooms of all the cards, natural order: each turn judged empty or not."""
    from roleplay.chatroom import Chatroom
    from roleplay.quality import is_echo, is_empty_turn, is_loop

    out = []
    for topic in TOPICS:
        room = Chatroom(s, list(cards.values()), topic, "natural")
        rows = []
        for _ in room.run(turns):
            t = room.turns[-1]
            before = [x.text for x in room.turns[:-1]]
            rows.append({"speaker": t.speaker, "text": t.text, "regenerated": t.regenerated,
                         "empty": bool(before) and is_empty_turn(t.text, before, topic=topic), "loop": is_loop(t.text),
                         "echo": bool(before) and is_echo(t.text, before[-1])})
            log(f"room {topic[:6]} {t.speaker} {'E' if rows[-1]['empty'] else '.'} {t.text[:50]!r}")
        out.append({"topic": topic, "beats": room.beats or [], "turns": rows, "markdown": room.to_markdown()})
    return out


def room_summary(rs: list[dict]) -> dict:
    turns = [t for r in rs for t in r["turns"]]
    return {"rooms": len(rs), "turns": len(turns), "empty_turns": rate(turns, "empty"), "loop": rate(turns, "loop"),
            "echo": rate(turns, "echo"), "regenerated": rate(turns, "regenerated")}


def transcripts(report: dict, novel: str, cards: dict, stranger: str) -> str:
    """Real replies of the `after` system for the first card (every mode), a new character, and the chatrooms."""
    after = report["systems"]["after"]
    first = next(iter(cards))
    out = [f"# 角色扮演实录：《{novel}》", "",
           f"Bundled model (Qwen2.5-Coder-1.5B-Instruct GGUF), temperature {report['temperature']}, today's roleplay "
           "defaults; generated by `bench/roleplay_quality.py` "
           f"({report['date']}, {report['cpu']}), unedited. The same prompts before the repair stages, the book's "
           "answers and the scene plan are in docs/roleplay-quality.json (`systems.before`).", ""]
    for r in [r for r in after["replies"] if r["character"] == first]:
        mark = f"（改过：{'、'.join(r['changed'])}）" if r["changed"] else ""
        out.extend([f"## {r['mode']}", "", f"> **你**：{r['prompt']}", "", f"**{first}**：{r['text']}", "",
                    f"*回声 {'是' if r['echo'] else '否'} · 循环 {'是' if r['loop'] else '否'} · 答到所问 "
                    f"{'—' if r['answers'] is None else '是' if r['answers'] else '否'}{mark}*", ""])
    out.extend(["## 书外的新角色（只有卡片）", "", "> **你**：你要去哪里？", "", f"**白衣书生**：{stranger}", ""])
    for room in after["rooms"]:
        out.extend([f"## 聊天室：{room['topic']}（四人，自然轮流）", "", room["markdown"].split("\n", 2)[2], ""])
    return "\n".join(out)


def markdown(report: dict) -> str:
    """The docs' tables: reader's measures per system, per mode, the rooms and the facts."""
    syss = report["systems"]
    cols = list(syss)
    rows = [("replies", "replies"), ("echo", "echo"), ("loop", "loop"), ("answers the question", "answers"),
            ("calls the user by its own name", "calls_user_self"), ("recites lore unasked", "recites_lore"),
            ("in character", "in_character"), ("book voice", "book_voice"), ("first token p50 (s)", "first_token_p50_s"),
            ("first text shown p50 (s)", "first_visible_p50_s")]
    out = ["| replies (" + ", ".join(f"{k}: {v['summary']['replies']}" for k, v in syss.items()) + ") | "
           + " | ".join(cols) + " |", "|---" + "|---:" * len(cols) + "|"]
    out += [f"| {label} | " + " | ".join(str(syss[c]["summary"].get(key)) for c in cols) + " |" for label, key in rows[1:]]
    out += ["| chatroom empty turns | " + " | ".join(str((syss[c]["rooms_summary"] or {}).get("empty_turns"))
                                                      for c in cols) + " |",
            "| chatroom turns (rooms × turns) | " + " | ".join(
                f"{(syss[c]['rooms_summary'] or {}).get('turns')}" for c in cols) + " |",
            "| facts right, character | " + " | ".join(f"{syss[c]['facts']['character']} (of "
                                                      f"{syss[c]['facts']['questions']})" for c in cols) + " |",
            "| facts right, plain 书问 on the same questions | " + " | ".join(str(syss[c]["facts"]["shuwen"])
                                                                       for c in cols) + " |",
            "| facts stated wrong (neither right nor refused), character / plain 书问 | " + " | ".join(
                f"{syss[c]['facts'].get('character_wrong')} / {syss[c]['facts'].get('shuwen_wrong')}" for c in cols) + " |",
            "| facts: first text shown p50 (s) | " + " | ".join(str(syss[c]["facts"]["first_visible_p50_s"])
                                                                 for c in cols) + " |",
            "| stages that changed a reply | " + " | ".join(
                ", ".join(f"{k} {v}" for k, v in syss[c]["summary"]["stages_fired"].items()) for c in cols) + " |"]
    out += ["", "| mode | " + " | ".join(f"{c}: echo / loop / answers" for c in cols) + " |", "|---" + "|---" * len(cols) + "|"]
    for md in syss[cols[-1]]["per_mode"]:
        out.append(f"| {md} | " + " | ".join(
            " / ".join(str(syss[c]["per_mode"].get(md, {}).get(k)) for k in ("echo", "loop", "answers"))
            for c in cols) + " |")
    return "\n".join(out) + "\n"


SYSTEMS = {"before": {"roleplay_facts": False, "roleplay_repair": False, "room_beats": 0,
                      "roleplay_presence_penalty": 0.0, "roleplay_frequency_penalty": 0.0},
           "after": {}}


def facts_summary(facts: list[dict]) -> dict:
    """Right and wrong (a fact stated that is not the book's: neither right nor a refusal) for the character and
    for plain 书问 on the same questions."""
    from rag.evaluate import is_refusal
    from roleplay.quality import says_unknown

    def share(xs: list[bool]) -> float | None:
        return round(sum(xs) / len(xs), 3) if xs else None

    return {"questions": len(facts), "character": share([f["correct"] for f in facts]),
            "shuwen": share([f["shuwen"]["correct"] for f in facts]),
            "character_wrong": share([not f["correct"] and not says_unknown(f["text"]) for f in facts]),
            "shuwen_wrong": share([not f["shuwen"]["correct"] and not is_refusal(f["shuwen"]["text"]) for f in facts]),
            "first_visible_p50_s": p50([f["first_visible_s"] for f in facts])}


def rescore(report: dict, cards: dict) -> dict:
    """The report's replies and room turns judged again by today's rules (roleplay/quality.py), summaries redone:
    a rule changed after a run is applied to the same texts, as `rag eval` re-scores its records."""
    from roleplay.card import names, shuwen
    from roleplay.quality import answers, calls_user_self, is_echo, is_empty_turn, is_loop, recites_lore

    for sysrep in report["systems"].values():
        for r in sysrep["replies"]:
            card = cards[r["character"]]
            own = tuple(dict.fromkeys([*names(card), shuwen(card).get("self_ref") or ""]))
            lore = (card["data"].get("character_book") or {}).get("entries", [])
            r.update(echo=is_echo(r["text"], r["prompt"], own), loop=is_loop(r["text"]),
                     answers=answers(r["text"], r["prompt"], own), calls_user_self=calls_user_self(r["text"], own),
                     recites_lore=recites_lore(r["text"], r["prompt"], lore))
        for room in sysrep["rooms"]:
            texts = [t["text"] for t in room["turns"]]
            for i, t in enumerate(room["turns"]):
                t.update(empty=i > 0 and is_empty_turn(t["text"], texts[:i], topic=room["topic"]),
                         loop=is_loop(t["text"]), echo=i > 0 and is_echo(t["text"], texts[i - 1]))
        rows = sysrep["replies"]
        sysrep["summary"] = summary(rows)
        sysrep["per_mode"] = {md: summary([r for r in rows if r["mode"] == md]) for md in sorted({r["mode"] for r in rows})}
        sysrep["per_character"] = {n: summary([r for r in rows if r["character"] == n]) for n in cards}
        sysrep["rooms_summary"] = room_summary(sysrep["rooms"]) if sysrep["rooms"] else None
        sysrep["facts"] = facts_summary(sysrep["fact_records"])
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--novel", default="西游记")
    ap.add_argument("--cards", type=Path, default=ROOT / "corpus" / "characters" / "西游记")
    ap.add_argument("--qa", type=Path, nargs="*", default=[])
    ap.add_argument("--max-questions", type=int, default=3, help="eval questions per character (default 3)")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--room-turns", type=int, default=12)
    ap.add_argument("--task-characters", type=int, default=2,
                    help="the first N cards also get the 7 tasks and a view (default 2)")
    ap.add_argument("--characters", help="only these cards (comma-separated names)")
    ap.add_argument("--systems", default="before,after", help="which of before,after to run")
    ap.add_argument("--adapter", default="", help="a character LoRA (.gguf) given to every chosen card")
    ap.add_argument("--facts", action=argparse.BooleanOptionalAction, default=True, help="ask the eval questions")
    ap.add_argument("--replies", action=argparse.BooleanOptionalAction, default=True,
                    help="the free questions, tasks and views")
    ap.add_argument("--rooms", action=argparse.BooleanOptionalAction, default=True, help="run the chatrooms")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "roleplay-quality.json")
    ap.add_argument("--transcripts", type=Path, default=ROOT / "docs" / "roleplay-transcripts.md",
                    help="transcripts file ('' = none)")
    ap.add_argument("--reuse", type=Path, help="an earlier report: systems not run now, and (with --no-rooms) the "
                    "rooms of those that are, are taken from it; everything is then judged by today's rules")
    ap.add_argument("--rescore", type=Path, help="judge a saved report's texts again by today's rules (no model); "
                    "writes it to --out and prints the docs' tables")
    args = ap.parse_args()
    if args.rescore:
        from roleplay.card import read_card

        report = json.loads(args.rescore.read_text(encoding="utf-8"))
        cards = {c["data"]["name"]: c for c in (read_card(p) for p in sorted(args.cards.glob("*.json")))}
        report = rescore(report, {n: cards[n] for n in report["characters"]})
        report["rescored"] = time.strftime("%Y-%m-%d")
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        print(markdown(report))
        return 0

    from rag.answer import Asker
    from rag.evaluate import answer_correct, is_refusal, load_qa
    from rag.index.build import load_for
    from rag.settings import load_settings
    from roleplay.card import new_card, read_card
    from roleplay.chat import Character

    base = load_settings(roleplay_temperature=args.temperature)
    order = list(ADDRESS)
    cards = {c["data"]["name"]: c for c in (read_card(p) for p in sorted(args.cards.glob("*.json")))}
    cards = dict(sorted(cards.items(), key=lambda kv: (kv[0] not in order, order.index(kv[0]) if kv[0] in order else 0)))
    if args.characters:
        cards = {n: cards[n] for n in args.characters.split(",")}
    for c in cards.values():
        c["data"]["extensions"]["shuwen"]["adapter"] = args.adapter or c["data"]["extensions"]["shuwen"]["adapter"]
    items = [x for path in args.qa for x in load_qa(path) if x.get("answers")]
    # plain 书问 as a reader gets it: the shipped settings (temperature 0.1, as the characters' book step)
    asker = Asker(load_settings(), args.novel)
    m = asker.retriever.manifest
    book = load_for(base, Path(m.source_path), m.name).original
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:6.0f}s] {msg}", flush=True)

    report: dict = {"command": " ".join(["python", "bench/roleplay_quality.py"] + sys.argv[1:]), **provenance(base),
                    "date": time.strftime("%Y-%m-%d"), "novel": args.novel, "temperature": args.temperature,
                    "adapter": args.adapter, "characters": list(cards), "prompts": PROMPTS, "topics": TOPICS,
                    "systems": {}}
    stranger = ""
    plain: dict[str, dict] = {}
    earlier = json.loads(args.reuse.read_text(encoding="utf-8"))["systems"] if args.reuse else {}
    if args.reuse:
        report["reused"] = {"from": str(args.reuse), "systems": [k for k in earlier if k not in args.systems.split(",")],
                            "rooms": not args.rooms}
    for label in args.systems.split(","):
        s = base.replace(**SYSTEMS[label])
        rows: list[dict] = []
        for i, (name, card) in enumerate(cards.items()):
            voice = voice_of(card, book)
            who = Character(s, card, retriever=asker.retriever)
            for mode, prompt, query in prompts_for(who, cards, i < args.task_characters) if args.replies else ():
                row = score(who.say(prompt, query=query), card, book, voice, prompt)
                row.update(character=name, prompt=prompt, mode=mode)
                rows.append(row)
                log(f"{label} {name} {mode} echo={row['echo']:d} loop={row['loop']:d} {row['text'][:50]!r}")
        facts: list[dict] = []
        for name, card in cards.items():
            mine = [(it, q) for it in items if (q := as_asked_to(it["question"], card))][:args.max_questions * args.facts]
            for it, q in mine:
                r = Character(s, card, retriever=asker.retriever).say(q)
                rec = {"id": it["id"], "character": name, "question": q, "answers": it["answers"], "text": r.text,
                       "correct": answer_correct(r.text, it), "citations": r.citations,
                       "book": None if r.facts is None else {"question": r.facts.standalone, "answer": r.facts.answer},
                       "first_visible_s": r.timings.get("first_visible_s")}
                if it["id"] not in plain:  # plain 书问 on the same question: the same for both systems
                    text = asker.ask(it["question"]).answer
                    plain[it["id"]] = {"text": text, "correct": answer_correct(text, it), "refused": is_refusal(text)}
                rec["shuwen"] = plain[it["id"]]
                facts.append(rec)
                log(f"{label} fact {it['id']} character={rec['correct']:d} shuwen={rec['shuwen']['correct']:d}")
        rs = rooms(s, cards, args.room_turns, log) if args.rooms else \
            (earlier.get(label, {}).get("rooms", []) if args.reuse else [])
        if label == "after":
            stranger = Character(s, new_card("白衣书生", description="一个进京赶考的穷书生，胆小，爱掉书袋。",
                                             personality="迂腐、胆小、善良", shuwen={"self_ref": "小生"})).say("你要去哪里？").text
        modes = sorted({r["mode"] for r in rows})
        report["systems"][label] = {
            "settings": SYSTEMS[label], "summary": summary(rows),
            "per_mode": {md: summary([r for r in rows if r["mode"] == md]) for md in modes},
            "per_character": {n: summary([r for r in rows if r["character"] == n]) for n in cards},
            "facts": facts_summary(facts),
            "rooms_summary": room_summary(rs) if rs else None,
            "fact_records": facts, "replies": rows, "rooms": rs}
        log(f"{label}: " + json.dumps({k: report["systems"][label][k] for k in ("summary", "facts", "rooms_summary")},
                                       ensure_ascii=False))
    for label, sysrep in earlier.items():
        report["systems"].setdefault(label, sysrep)
    report["systems"] = {k: report["systems"][k] for k in ("before", "after") if k in report["systems"]}
    report["stranger"] = stranger
    report = rescore(report, cards)
    report["seconds"] = round(time.time() - t0)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if str(args.transcripts) not in {"", "."} and "after" in report["systems"]:
        args.transcripts.write_text(transcripts(report, args.novel, cards, stranger or report.get("stranger", "")),
                                    encoding="utf-8")
    print(json.dumps({k: {x: v[x] for x in ("summary", "facts", "rooms_summary")} for k, v in report["systems"].items()},
                     ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
