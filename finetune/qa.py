"""Step 1: QA pairs from a store's chunks with any chat backend, validated, grounded, deduplicated, resumable.

python -m finetune.qa --name 西游记 --chapters 1-3 --out data/qa.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from finetune.common import (
    Progress,
    add_backend_args,
    add_source_args,
    append_jsonl,
    echo_args,
    load_chunks,
    parse_chapters,
    read_jsonl,
    select_chunks,
    settings_for,
    teacher,
    write_jsonl,
)
from finetune.dedup import dedup, normalize
from finetune.grounding import evidence_sentence, support
from finetune.jsonout import MalformedOutput, ask_json
from finetune.prompter import DataPrompter
from rag.errors import run_main
from rag.generate.prompter import chapter_label
from rag.ingest.chunking import Chunk

Complete = Callable[[list[dict]], str]
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*[”’」』]?")


def side_files(out: Path) -> tuple[Path, Path, Path]:
    """(raw pairs, rejected pairs, progress) beside the output file."""
    out = Path(out)
    return tuple(out.with_name(f"{out.stem}.{kind}.jsonl") for kind in ("raw", "rejected", "progress"))  # type: ignore[return-value]


def check_pair(q: str, a: str, chunk: Chunk, threshold: float) -> str | None:
    """Why a pair is unusable, or None when it is fine."""
    if not normalize(q) or not normalize(a):
        return "empty"
    if normalize(a) in normalize(q):
        return "answer in question"
    if support(a, chunk.text) < threshold:
        return "not grounded"
    return None


def windows(text: str, size: int) -> list[str]:
    """Consecutive whole sentences of about `size` characters, covering the text."""
    out, cur = [], ""
    for m in _SENTENCE.finditer(text):
        cur += m.group().strip()
        if len(cur) >= size:
            out.append(cur)
            cur = ""
    if len(cur) >= size // 3 or not out:
        out.append(cur)
    return [w for w in out if w]


def pairs_for_chunk(chunk: Chunk, novel: str, complete: Complete, prompter: DataPrompter, per_chunk: int,
                    retries: int, backoff: float, threshold: float, sleep: Callable[[float], None] = time.sleep,
                    window: int = 0) -> tuple[list[dict], list[dict]]:
    """(good pairs with provenance, rejected pairs with a reason) for one chunk."""
    label = f"〔{chapter_label(chunk.chapter, chunk.chapter_title)}〕"
    if window > 0:  # small models: one question per short window, far faster and better than many per chunk
        items, failed = [], []
        for text in windows(chunk.text, window)[:per_chunk]:
            msgs = prompter.messages(novel=novel, chapter_label=label, text=text, n=1)
            try:
                got = ask_json(complete, msgs, prompter.schema, prompter.retry, retries, backoff, sleep)
                items += [got] if isinstance(got, dict) else got[:1]
            except MalformedOutput as e:
                failed.append({"chunk_id": chunk.chunk_id, "chapter": chunk.chapter, "window": text[:40],
                               "error": str(e), "reason": "malformed window"})
        if not items:
            raise MalformedOutput("no window of the chunk gave valid JSON")
    else:
        msgs = prompter.messages(novel=novel, chapter_label=label, text=chunk.text, n=per_chunk)
        got = ask_json(complete, msgs, prompter.schema, prompter.retry, retries, backoff, sleep)
        items, failed = [got] if isinstance(got, dict) else got, []
    good, bad = [], failed
    for it in items:
        q, a = it["question"].strip(), it["answer"].strip().strip("。，“”\"")
        rec = {"id": hashlib.sha1(f"{chunk.chunk_id}|{q}".encode()).hexdigest()[:12], "novel": novel,
               "question": q, "answer": a, "chunk_id": chunk.chunk_id, "chapter": chunk.chapter,
               "chapter_title": chunk.chapter_title, "start": chunk.start, "end": chunk.end}
        reason = check_pair(q, a, chunk, threshold)
        if reason:
            bad.append({**rec, "reason": reason})
        else:
            good.append({**rec, "evidence": evidence_sentence(a, chunk.text), "support": round(support(a, chunk.text), 2)})
    return good, bad


def generate_qa(chunks: list[Chunk], novel: str, complete: Complete, out: Path, per_chunk: int = 3,
                retries: int = 3, backoff: float = 1.0, grounding: float = 0.8, dup_threshold: float = 0.8,
                template: str = "qa", fresh: bool = False, progress: bool = True,
                sleep: Callable[[float], None] = time.sleep, window: int = 0) -> dict:
    """Generate, check and deduplicate QA pairs for `chunks` into `out`; re-running continues where it stopped."""
    from tqdm import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw, rejected, prog_path = side_files(out)
    if fresh:
        raw.unlink(missing_ok=True)
        rejected.unlink(missing_ok=True)
    prog = Progress(prog_path, fresh)
    prompter = DataPrompter(template)
    todo = [c for c in chunks if c.chunk_id not in prog]
    stats: Counter = Counter()
    for chunk in tqdm(todo, desc="qa", unit="chunk", file=sys.stderr, disable=not progress,
                      initial=len(chunks) - len(todo), total=len(chunks)):
        try:
            good, bad = pairs_for_chunk(chunk, novel, complete, prompter, per_chunk, retries, backoff, grounding,
                                        sleep, window)
        except MalformedOutput as e:
            prog.mark(chunk.chunk_id, status="malformed", error=str(e))
            continue
        append_jsonl(raw, good)
        append_jsonl(rejected, bad)
        prog.mark(chunk.chunk_id, status="ok", kept=len(good), rejected=len(bad))
    for rec in prog.done.values():
        stats["chunks"] += 1
        stats["malformed_chunks"] += rec.get("status") == "malformed"
    for r in read_jsonl(rejected) if rejected.exists() else []:
        stats[f"rejected: {r['reason']}"] += 1
    pairs = read_jsonl(raw) if raw.exists() else []
    kept, dropped = dedup(pairs, key=lambda r: r["question"], threshold=dup_threshold)
    write_jsonl(out, kept)
    stats.update(pairs_valid=len(pairs), duplicates=len(dropped), kept=len(kept))
    return dict(stats)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.qa", description=generate_qa.__doc__)
    add_source_args(p)
    p.add_argument("--out", type=Path, required=True, help="output JSONL (side files: .raw, .rejected, .progress)")
    p.add_argument("--per-chunk", type=int, default=3, help="questions asked per chunk (default 3)")
    p.add_argument("--retries", type=int, default=3, help="re-asks after malformed JSON (default 3)")
    p.add_argument("--backoff", type=float, default=1.0, help="seconds before the first re-ask, doubling (default 1)")
    p.add_argument("--grounding", type=float, default=0.8, help="min share of the answer found in its chunk (default 0.8)")
    p.add_argument("--dup-threshold", type=float, default=0.8, help="bigram Jaccard above which questions are duplicates")
    p.add_argument("--template", default="qa", help="prompt template name in finetune/prompts or a JSON path")
    p.add_argument("--window", type=int, default=0,
                   help="ask one question per ~N-character window of the chunk (small models; 0 = whole chunk at once)")
    p.add_argument("--fresh", action="store_true", help="start over instead of continuing the progress file")
    add_backend_args(p, temperature=0.7, max_tokens=400)
    args = p.parse_args(argv)

    def body() -> int:
        echo_args(args, "qa")
        settings = settings_for(args)
        name, chunks = load_chunks(settings, args.name, args.novel)
        chunks = select_chunks(chunks, parse_chapters(args.chapters), args.limit)
        complete = teacher(settings, args)
        t = time.perf_counter()
        stats = generate_qa(chunks, name, complete, args.out, args.per_chunk,
                            args.retries, args.backoff, args.grounding, args.dup_threshold, args.template, args.fresh,
                            window=args.window)
        print(f"[qa] {stats} in {time.perf_counter() - t:.0f} s → {args.out}", file=sys.stderr)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
