"""Step 3: dialogue pairs for a role: script-format text (`角色：台词`), the book's own quoted lines, or prose through a chat model.

python -m finetune.dialogue script --file 剧本.txt --role 甄嬛 --aliases 嬛嬛,莞嫔 --out data/dialogue.jsonl
python -m finetune.dialogue book --novel ../shared/corpus/xiyouji.txt --role 孙悟空 --aliases 悟空,行者,孙行者,齐天大圣 \
    --limit 300 --out data/dialogue.jsonl
python -m finetune.dialogue prose --name 西游记 --chapters 1-3 --role 孙悟空 --aliases 悟空,行者,孙行者,齐天大圣 \
    --out data/dialogue.jsonl
"""

from __future__ import annotations

import argparse
import bisect
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from finetune.common import (
    Progress,
    add_backend_args,
    add_source_args,
    append_jsonl,
    echo_args,
    load_book,
    load_chunks,
    parse_chapters,
    read_jsonl,
    select_chunks,
    settings_for,
    teacher,
    write_jsonl,
)
from finetune.dedup import dedup, normalize
from finetune.grounding import support
from finetune.jsonout import MalformedOutput, ask_json
from finetune.prompter import DataPrompter
from rag.errors import BadInputError, run_main
from rag.ingest.chunking import Chunk
from rag.settings import add_settings_args

_TURN = re.compile(r"^\s*(?P<role>[^\s：:（()“”\"「」]{1,12})\s*(?:[（(](?P<action>[^）)]*)[）)])?\s*[：:]\s*(?P<line>\S.*?)\s*$")
_SCENE = re.compile(r"^\s*(第[0-9一二三四五六七八九十百]+[幕场集回章]|【[^】]*】|场景|\[[^\]]*\]\s*$)")
_QUOTES = "“”\"「」『』‘’"


@dataclass
class Turn:
    """One spoken line of a script."""

    role: str
    line: str
    action: str = ""
    scene: int = 0


def parse_script(text: str) -> list[Turn]:
    """Turns of `角色：台词` / `角色（动作）：台词` lines; a scene heading starts a new scene, narration is skipped."""
    turns: list[Turn] = []
    scene = 0
    for raw in text.splitlines():
        if _SCENE.match(raw):
            scene += 1
            continue
        m = _TURN.match(raw)
        if not m:
            continue
        line = m.group("line").strip().strip(_QUOTES).strip()
        if not line:
            continue
        role, action = m.group("role"), (m.group("action") or "").strip()
        if turns and turns[-1].role == role and turns[-1].scene == scene:
            turns[-1].line += line  # one speaker's consecutive lines are one turn
            continue
        turns.append(Turn(role, line, action, scene))
    return turns


def script_pairs(turns: list[Turn], role: str, aliases: list[str] = ()) -> list[dict]:
    """(previous speaker's line → the role's reply) pairs, within a scene; `group` is the scene for multi-turn export."""
    names = {role, *aliases}
    out = []
    for prev, t in zip(turns, turns[1:]):
        if t.role in names and prev.role not in names and prev.scene == t.scene:
            out.append({"input": prev.line, "output": t.line, "speaker": prev.role, "role": role,
                        "action": t.action, "group": f"scene-{t.scene}"})
    return out


def check_line(item: dict, names: set[str], text: str, threshold: float = 0.9) -> str | None:
    """Why an extracted line is unusable, or None."""
    if normalize(item["speaker"]) not in {normalize(n) for n in names}:
        return "other speaker"
    line = item["line"].strip(_QUOTES)
    if len(normalize(line)) < 2:
        return "empty"
    if support(line, text) < threshold:
        return "not in the text"
    reply_to = (item.get("reply_to") or "").strip(_QUOTES)
    if not normalize(reply_to):
        return "no line it answers"
    if support(reply_to, text) < threshold:
        return "answered line not in the text"
    if normalize(reply_to) == normalize(line):
        return "answers itself"
    return None


def extract_dialogues(chunks: list[Chunk], novel: str, role: str, aliases: list[str],
                      complete: Callable[[list[dict]], str], out: Path, retries: int = 3, backoff: float = 1.0,
                      fresh: bool = False, progress: bool = True, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Chunk by chunk, the role's lines (under any alias) with the line each answers; validated, deduplicated, resumable."""
    from tqdm import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_name(f"{out.stem}.raw.jsonl")
    if fresh:
        raw.unlink(missing_ok=True)
    prog = Progress(out.with_name(f"{out.stem}.progress.jsonl"), fresh)
    prompter = DataPrompter("dialogue")
    names = {role, *aliases}
    # quick filter: a chunk that never names the role and has no quotes cannot hold its lines
    todo = [c for c in chunks if c.chunk_id not in prog]
    for c in tqdm(todo, desc="dialogue", unit="chunk", file=sys.stderr, disable=not progress):
        if not any(n in c.text for n in names) or not any(q in c.text for q in "“\"「：:"):
            prog.mark(c.chunk_id, status="skipped")
            continue
        msgs = prompter.messages(novel=novel, text=c.text, role=role, aliases="、".join(aliases))
        try:
            items = ask_json(complete, msgs, prompter.schema, prompter.retry, retries, backoff, sleep)
        except MalformedOutput as e:
            prog.mark(c.chunk_id, status="malformed", error=str(e))
            continue
        good, reasons = [], []
        for it in items:
            reason = check_line(it, names, c.text)
            if reason:
                reasons.append(reason)
                continue
            good.append({"input": it["reply_to"].strip(_QUOTES), "output": it["line"].strip(_QUOTES),
                         "speaker": it.get("reply_speaker", ""), "role": role, "chunk_id": c.chunk_id,
                         "chapter": c.chapter, "group": c.chunk_id})
        append_jsonl(raw, good)
        prog.mark(c.chunk_id, status="ok", kept=len(good), rejected=reasons)
    records = read_jsonl(raw) if raw.exists() else []
    kept, dropped = dedup(records, key=lambda r: r["output"], threshold=0.9)
    write_jsonl(out, kept)
    rejected = [r for p in prog.done.values() for r in p.get("rejected", [])]
    return {"chunks": len(prog.done), "lines": len(records), "duplicates": len(dropped), "kept": len(kept),
            "rejected": len(rejected), "malformed_chunks": sum(p.get("status") == "malformed" for p in prog.done.values())}


def book_pairs(chunks: list[Chunk], original: str, role: str, aliases: list[str], chapters: set[int] | None = None,
               limit: int = 0, attributed_only: bool = False, max_chars: int = 200) -> list[dict]:
    """The role's lines answering the line said just before, from the book's quoted speech (no model); `limit` spreads."""
    from rag.ingest.speech import answered_lines

    starts = [c.start for c in chunks]
    out = []
    for pair in answered_lines(original, [role, *aliases]):
        i = max(0, bisect.bisect_right(starts, pair["start"]) - 1)
        chapter = chunks[i].chapter if chunks else 0
        if (chapters is not None and chapter not in chapters) or (attributed_only and not pair["speaker"]) \
                or max(len(pair["input"]), len(pair["output"])) > max_chars > 0:
            continue
        out.append({"input": pair["input"], "output": pair["output"], "speaker": pair["speaker"], "role": role,
                    "chapter": chapter, "group": f"line-{pair['start']}"})
    if 0 < limit < len(out):  # spread over the whole book, not only its first chapters
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.dialogue", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("script", help="parse 角色：台词 lines", description=script_pairs.__doc__)
    s.add_argument("--file", type=Path, required=True, help="script text file (UTF-8)")
    pr = sub.add_parser("prose", help="extract a role's lines from a novel with a chat model",
                        description=extract_dialogues.__doc__)
    add_source_args(pr)
    pr.add_argument("--retries", type=int, default=3, help="re-asks after malformed JSON (default 3)")
    pr.add_argument("--backoff", type=float, default=1.0, help="seconds before the first re-ask, doubling (default 1)")
    pr.add_argument("--fresh", action="store_true", help="start over instead of continuing")
    add_backend_args(pr, temperature=0.1, max_tokens=600)
    bk = sub.add_parser("book", help="the role's own quoted lines and the line each answers (no model)",
                        description=book_pairs.__doc__)
    bk.add_argument("--name", help="store (novel) name whose source file to read; default: the settings' default_novel")
    bk.add_argument("--novel", type=Path, help="read this novel file instead of a store's source")
    bk.add_argument("--chapters", help="chapters to use, e.g. 1-20 (default: all)")
    bk.add_argument("--limit", type=int, default=0, help="keep at most this many pairs, spread over the book (0 = all)")
    bk.add_argument("--attributed-only", action="store_true",
                    help="only pairs whose prompt line names its speaker (八戒道：“…”)")
    bk.add_argument("--max-chars", type=int, default=200,
                    help="leave out pairs with a line longer than this (0 = any; default 200, a chat turn's length)")
    add_settings_args(bk)
    for x in (s, pr, bk):
        x.add_argument("--role", required=True, help="target character, e.g. 孙悟空")
        x.add_argument("--aliases", default="", help="other names, comma-separated, e.g. 悟空,行者,孙行者,齐天大圣")
        x.add_argument("--out", type=Path, required=True, help="output JSONL")
    args = p.parse_args(argv)

    def body() -> int:
        echo_args(args, "dialogue")
        aliases = [a.strip() for a in args.aliases.replace("，", ",").split(",") if a.strip()]
        if args.mode == "script":
            if not args.file.is_file():
                raise BadInputError(f"no such script file: {args.file}")
            pairs = script_pairs(parse_script(args.file.read_text(encoding="utf-8")), args.role, aliases)
            if not pairs:
                raise BadInputError(f"{args.file}: no lines of {args.role} answering someone (format 角色：台词)")
            write_jsonl(args.out, pairs)
            print(f"[dialogue] {len(pairs)} pairs → {args.out}", file=sys.stderr)
            return 0
        settings = settings_for(args)
        if args.mode == "book":
            novel = load_book(settings, args.name, args.novel)
            pairs = book_pairs(novel.chunks, novel.original, args.role, aliases, parse_chapters(args.chapters),
                               args.limit, args.attributed_only, args.max_chars)
            if not pairs:
                raise BadInputError(f"{novel.name}: no quoted lines of {args.role} (or {', '.join(aliases) or 'an alias'})"
                                    " answering someone; check the name and --aliases")
            write_jsonl(args.out, pairs)
            print(f"[dialogue] {len(pairs)} pairs from {novel.name} → {args.out}", file=sys.stderr)
            return 0
        name, chunks = load_chunks(settings, args.name, args.novel)
        chunks = select_chunks(chunks, parse_chapters(args.chapters), args.limit)
        complete = teacher(settings, args)
        stats = extract_dialogues(chunks, name, args.role, aliases, complete,
                                  args.out, args.retries, args.backoff, args.fresh)
        print(f"[dialogue] {stats} → {args.out}", file=sys.stderr)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
