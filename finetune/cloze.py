"""Reading data from the book, no teacher: a sentence's person, place or number masked into a question (cloze), with
the evidence the answer path would show (the gold window among the retriever's distractors, RAFT) and 书问's answer.

python -m finetune.cloze --name 西游记 --items 400 --out runs/reader/cloze.jsonl
Each record is a chat turn the kit exports and trains on (system, input = the answer prompt, output = the answer);
`meta` says what was masked. About `--refusal-share` of the items leave the gold window out and teach the refusal.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from finetune.common import add_source_args, echo_args, settings_for, write_jsonl
from rag.errors import BadInputError, run_main
from rag.generate.prompter import Prompter, chapter_label
from rag.ingest.chunking import Chunk
from rag.rank import sentences
from rag.retrieve import Candidate, Passage
from rag.settings import add_settings_args

KINDS = ("person", "place", "number")
_NUM = "零〇一二三四五六七八九十百千万两"
_MEASURE = "个只年天日岁次位人件匹株斤两里丈尺张把箱口头条座间员名路卷颗粒斗石担尊根封"
# a numeral of at least two characters (三千, 十八) or one that is not 一/两 before a measure word: 一个 and 两人
# are how the book says "a" and "both", not a count anyone asks about
_NUMBER = re.compile(rf"(?<![{_NUM}第])([{_NUM}]{{2,}}|[三四五六七八九十百千万])([{_MEASURE}])")
_PLACE_END = "山洞寺国城府县村河岭庄宫殿江湖海州镇关岛观庙郡寨"
# where the verb says the place is a destination or a location, 哪里 reads naturally in its place
_PLACE_VERB = "到至往去回入进奔投在于住离出"
_PLACE_TAIL = set("口岸门外里内前后下上中边头脚龙王")  # 至芭蕉洞口 → 至哪里口 is no question
_DIALOGUE = re.compile(r"[“”「」『』：:]")
_OPENERS = re.compile(r"^(却说|话说|且说|只见|原来|正是|又见|忽见|但见|那|这|却|又|遂|便|就)+")
_WH = {"person": "谁", "place": "哪里"}
# words the speaker finder takes for names (行者闻言道 → 闻言) or groups (师徒们): never a 谁 answer
_NOT_A_NAME = re.compile(r"[闻言问叫想谢暗饶声得们些欢的又]|^[对众他]")


def is_verse(text: str) -> bool:
    """Whether a sentence is a line of verse (two or more clauses of one length, four to seven characters)."""
    clauses = [c for c in re.split(r"[，。；！？、,;!?]", text) if c]
    return len(clauses) >= 2 and len({len(c) for c in clauses}) == 1 and 4 <= len(clauses[0]) <= 7


@dataclass(frozen=True)
class Cloze:
    """One masked sentence: the question, the span it hides, and where that span stands in its chunk."""

    kind: str
    span: str
    question: str
    chunk: Chunk
    sentence: tuple[int, int]  # [start, end) of the sentence in the chunk


def masks(sentence: str, names: Iterable[str], places: set[str]) -> list[tuple[str, str, str]]:
    """(kind, span, question) for each askable span of a narrative sentence; none for dialogue or odd lengths.

    A span becomes a question only when it stands once in the sentence, so the question cannot still hold it.
    """
    text = sentence.strip()
    if _DIALOGUE.search(text) or not 8 <= len(text) <= 48 or is_verse(text):
        return []
    body = _OPENERS.sub("", text.rstrip("。！？!?…；;，,"))
    out = []
    for m in _NUMBER.finditer(body):
        span = m.group()
        if body.count(span) == 1:
            out.append(("number", span, body[: m.start()] + "多少" + m.group(2) + body[m.end():]))
    for name in names:
        i = body.find(name)
        if (i < 0 or body.count(name) > 1 or _NOT_A_NAME.search(name) or body[i - 1 : i] == "好"
                or any(n != name and n in body and (name in n or body.startswith(n, i + len(name))
                                                     or body[:i].endswith(n)) for n in names)):
            continue  # one plain mention, not part of a longer name and not glued to another (八戒沙僧)
        out.append(("person", name, body.replace(name, _WH["person"])))
    for place in sorted(places):  # sorted: a set's order changes between processes, the data must not
        i = body.find(place)
        if i < 1 or body.count(place) > 1 or body[i + len(place) : i + len(place) + 1] in _PLACE_TAIL:
            continue
        verb = body[i - 2] if body[i - 1] == "了" and i >= 2 else body[i - 1]
        if verb in _PLACE_VERB:
            out.append(("place", place, body.replace(place, _WH["place"])))
    return [(k, s, q + "？") for k, s, q in out if s not in q and len(re.findall(r"[\u4e00-\u9fff]", q)) >= 6]


def book_people(people: dict[str, list[int]], speakers: dict[str, list[str]], min_mentions: int = 5,
                min_lines: int = 3) -> list[str]:
    """Who can answer 谁: the book's character names that also speak (so 明珠 and 金睛 are out), most mentioned first."""
    return [n for n, per_chapter in people.items() if sum(per_chapter) >= min_mentions
            and len(speakers.get(n, ())) >= min_lines and not _NOT_A_NAME.search(n)]


def book_places(words: dict[str, int], names: Iterable[str], min_count: int = 3) -> set[str]:
    """The book's own place names: discovered words of 2–5 characters ending in a place suffix, said ≥ min_count times."""
    people = set(names)
    return {w for w, n in words.items() if 2 <= len(w) <= 5 and w[-1] in _PLACE_END and n >= min_count
            and w not in people and not re.search(r"[^\u4e00-\u9fff]", w)}


def find_clozes(chunk: Chunk, names: list[str], places: set[str]) -> list[Cloze]:
    """Every cloze a chunk offers."""
    out = []
    for a, b in sentences(chunk.text):
        for kind, span, question in masks(chunk.text[a:b], names, places):
            out.append(Cloze(kind, span, question, chunk, (a, b)))
    return out


def gold_window(cloze: Cloze, max_chars: int = 160) -> str:
    """The sentence that holds the span with the sentence before it when both fit in `max_chars` (how evidence
    windows are cut), or "" when the span does not stand exactly once in it."""
    spans = sentences(cloze.chunk.text)
    i = spans.index(cloze.sentence)
    a = spans[i - 1][0] if i > 0 and cloze.sentence[1] - spans[i - 1][0] <= max_chars else cloze.sentence[0]
    text = cloze.chunk.text[a : cloze.sentence[1]]
    return text if text.count(cloze.span) == 1 else ""


def passage_of(chunk: Chunk, text: str) -> Passage:
    return Passage(text, chunk.chapter, chunk.chapter_title, chunk.start, chunk.end, 0.0, chunk.chunk_id)


def build_item(cloze: Cloze, pool: list[Candidate], choose: Callable, prompter: Prompter, novel: str,
               rng: random.Random, refusal: bool, context_chars: int, distractors: int) -> dict | None:
    """A training record for one cloze: the answer prompt over the gold window and the retriever's distractors
    (none of which holds the span), the answer with its chapter; or, for a refusal item, the distractors alone."""
    gold = gold_window(cloze)
    if not gold:
        return None
    others = [c for c in pool if c.passage.chunk_id != cloze.chunk.chunk_id and cloze.span not in c.passage.text]
    if not others:
        return None
    budget = context_chars - (0 if refusal else len(gold))
    shown = choose(cloze.question, others, max(budget, 80))[:distractors]
    if any(cloze.span in p.text for p in shown):
        return None
    evidence = list(shown)
    if not refusal:
        evidence.insert(rng.randint(0, len(evidence)), passage_of(cloze.chunk, gold))
    label = chapter_label(cloze.chunk.chapter, cloze.chunk.chapter_title)
    messages = prompter.messages(novel, cloze.question, evidence)
    output = prompter.refusal if refusal else f"{cloze.span}〔{label}〕"
    shown_text = "\n".join(p.text for p in evidence)
    if not refusal and shown_text.count(cloze.span) != 1 or refusal and cloze.span in shown_text:
        return None
    return {"system": messages[0]["content"], "input": messages[-1]["content"], "output": output,
            "group": f"{cloze.chunk.chunk_id}:{cloze.sentence[0]}",
            "meta": {"kind": cloze.kind, "span": cloze.span, "question": cloze.question, "chapter": cloze.chunk.chapter,
                     "chunk_id": cloze.chunk.chunk_id, "gold": not refusal, "window": gold,
                     "distractors": [p.chunk_id for p in shown]}}


def generate(chunks: list[Chunk], names: list[str], places: set[str], pool: Callable[[str], list[Candidate]],
             choose: Callable, prompter: Prompter, novel: str, items: int, seed: int = 0, refusal_share: float = 0.2,
             context_chars: int = 400, distractors: int = 3, per_chunk: int = 1,
             progress: bool = True) -> tuple[list[dict], Counter]:
    """Up to `items` records, at most `per_chunk` (sentences) from a chunk, each the kind kept least so far."""
    from tqdm import tqdm

    rng = random.Random(seed)
    order = list(chunks)
    rng.shuffle(order)
    stats: Counter = Counter()
    out: list[dict] = []
    kept: Counter = Counter()
    bar = tqdm(total=items, desc="cloze", unit="item", file=sys.stderr, disable=not progress)
    for chunk in order:
        found = find_clozes(chunk, names, places)
        stats["clozes found"] += len(found)
        for _ in range(per_chunk):
            if len(out) >= items:
                break
            by_kind = {k: [c for c in found if c.kind == k] for k in KINDS}
            kinds = sorted((k for k in KINDS if by_kind[k]), key=lambda k: (kept[k], KINDS.index(k)))
            if not kinds:
                break
            cloze = rng.choice(by_kind[kinds[0]])
            found = [c for c in found if c.sentence != cloze.sentence]  # one question a sentence
            refusal = rng.random() < refusal_share
            rec = build_item(cloze, pool(cloze.question), choose, prompter, novel, rng, refusal, context_chars,
                             distractors)
            if rec is None:
                stats["rejected"] += 1
                continue
            kept[cloze.kind] += 1
            stats[f"kept {cloze.kind}" + (" (refusal)" if refusal else "")] += 1
            out.append(rec)
            bar.update(1)
        if len(out) >= items:
            break
    bar.close()
    stats["kept"] = len(out)
    return out, stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.cloze", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_args(p)
    p.add_argument("--out", type=Path, required=True, help="output JSONL (train with finetune.export → finetune.train)")
    p.add_argument("--items", type=int, default=400, help="records to make (default 400)")
    p.add_argument("--seed", type=int, default=0, help="random seed: which chunks, clozes and refusals (default 0)")
    p.add_argument("--refusal-share", type=float, default=0.2, help="share of items without the gold window (default 0.2)")
    p.add_argument("--context-chars", type=int, default=400,
                   help="evidence characters per item, gold window included (default 400; answering uses context_chars)")
    p.add_argument("--distractors", type=int, default=3, help="most distractor passages shown (default 3)")
    p.add_argument("--per-chunk", type=int, default=1, help="most items from one chunk, one per sentence (default 1; "
                                                             "more for a short book)")
    add_settings_args(p)
    args = p.parse_args(argv)

    def body() -> int:
        from finetune.common import load_chunks, parse_chapters, select_chunks
        from rag.answer import Asker

        echo_args(args, "cloze")
        if not 0 <= args.refusal_share < 1 or min(args.items, args.distractors, args.per_chunk) < 1:
            raise BadInputError("--items, --distractors and --per-chunk must be ≥ 1 and --refusal-share in [0, 1)")
        settings = settings_for(args)
        if args.novel:
            raise BadInputError("--novel: cloze needs a built store for its distractors; build one with gen_chroma.py")
        name, chunks = load_chunks(settings, args.name, None)
        chunks = select_chunks(chunks, parse_chapters(args.chapters), args.limit)
        asker = Asker(settings, name)
        lex = asker.retriever.lexical()
        from rag.ingest.speech import lines_by_speaker

        names = book_people(lex.people, lines_by_speaker("".join(c.text for c in chunks)))
        places = book_places(lex.words, names)
        t = time.perf_counter()
        records, stats = generate(chunks, names, places, lambda q: asker.retriever.pool(q, asker.pool_size),
                                  lambda q, pool, budget: asker.choose(q, pool, budget)[0], asker.prompter, name,
                                  args.items, args.seed, args.refusal_share, args.context_chars, args.distractors,
                                  args.per_chunk)
        write_jsonl(args.out, records)
        print(f"[cloze] {dict(stats)} in {time.perf_counter() - t:.0f} s → {args.out}", file=sys.stderr)
        return 0 if records else 1

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
