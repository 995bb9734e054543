"""Export generated data for trainers: xtuner single/multi-turn JSONL, alpaca JSON, chat-messages JSONL, eval QA.

python -m finetune.export data/qa.jsonl data/persona.jsonl data/dialogue.jsonl --out data/export --val-fraction 0.2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from finetune.common import echo_args, read_jsonl, write_jsonl
from rag.errors import BadInputError, run_main
from rag.generate.prompter import Prompter, chapter_label

FORMATS = ("xtuner_single", "xtuner_multi", "alpaca", "messages")


def qa_system(novel: str) -> str:
    """The closed-book system prompt (rag/generate/prompts/closed_book.json): taught here, asked the same way in eval."""
    return Prompter("closed_book").template["system"].format(novel=novel)


def to_turn(rec: dict) -> dict:
    """One generated record (QA pair, persona answer or dialogue pair) → {system, input, output, group}."""
    if "question" in rec and "chunk_id" in rec:  # QA pair
        label = chapter_label(rec["chapter"], rec.get("chapter_title", ""))
        return {"system": qa_system(rec["novel"]), "input": rec["question"], "output": f"{rec['answer']}〔{label}〕",
                "group": rec["id"]}
    if "question" in rec and "system" in rec:  # persona answer
        return {"system": rec["system"], "input": rec["question"], "output": rec["answer"],
                "group": f"{rec['question']}#{rec.get('sample', 0)}"}
    if "input" in rec and "output" in rec:  # dialogue pair
        system = rec.get("system") or (f"现在你要扮演{rec['role']}。" if rec.get("role") else "")
        return {"system": system, "input": rec["input"], "output": rec["output"],
                "group": rec.get("group") or hashlib.sha1(rec["input"].encode()).hexdigest()[:12]}
    raise BadInputError(f"unknown record (not a QA pair, persona answer or dialogue pair): {str(rec)[:80]}")


def split(turns: list[dict], val_fraction: float, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Deterministic train/validation split by a hash of each turn's group: stable when data is added, no group split."""
    def is_val(t: dict) -> bool:
        h = int(hashlib.sha1(f"{seed}|{t['group']}".encode()).hexdigest(), 16)
        return h / 2 ** 160 < val_fraction

    return [t for t in turns if not is_val(t)], [t for t in turns if is_val(t)]


def _groups(turns: Iterable[dict]) -> list[list[dict]]:
    out: dict[str, list[dict]] = {}
    for t in turns:
        out.setdefault(t["group"], []).append(t)
    return list(out.values())


def xtuner_single(turns: list[dict]) -> list[dict]:
    return [{"conversation": [{"system": t["system"], "input": t["input"], "output": t["output"]}]} for t in turns]


def xtuner_multi(turns: list[dict]) -> list[dict]:
    """One conversation per group; xtuner puts the system prompt on the first turn only."""
    return [{"conversation": [{**({"system": g[0]["system"]} if i == 0 else {}), "input": t["input"], "output": t["output"]}
                              for i, t in enumerate(g)]} for g in _groups(turns)]


def alpaca(turns: list[dict]) -> list[dict]:
    return [{"instruction": t["input"], "input": "", "output": t["output"], "system": t["system"]} for t in turns]


def messages(turns: list[dict]) -> list[dict]:
    """OpenAI-style chat records, one per group."""
    out = []
    for g in _groups(turns):
        msgs = [{"role": "system", "content": g[0]["system"]}] if g[0]["system"] else []
        for t in g:
            msgs += [{"role": "user", "content": t["input"]}, {"role": "assistant", "content": t["output"]}]
        out.append({"messages": msgs})
    return out


def to_eval(qa: list[dict], kind: str = "generated") -> list[dict]:
    """QA pairs as items for `python -m rag eval` (../shared/eval/README.md): the answer and its evidence sentence."""
    return [{"id": r["id"], "question": r["question"], "answers": [r["answer"]], "evidence": [r["evidence"]],
             "chapter": [r["chapter"]], "kind": kind, "hops": 1, "answerable": True}
            for r in qa if "chunk_id" in r and "question" in r]


def write_format(path_stem: Path, fmt: str, turns: list[dict]) -> Path:
    records = {"xtuner_single": xtuner_single, "xtuner_multi": xtuner_multi, "alpaca": alpaca,
               "messages": messages}[fmt](turns)
    if fmt == "alpaca":  # alpaca is one JSON array
        path = path_stem.with_name(path_stem.name + ".json")
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        return path
    path = path_stem.with_name(path_stem.name + ".jsonl")
    write_jsonl(path, records)
    return path


def export(records: list[dict], out: Path, val_fraction: float = 0.1, seed: int = 0,
           formats: Iterable[str] = FORMATS) -> dict:
    """Write every format's train/val files and the eval QA files into `out`; returns {file: records}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    turns = [dict(to_turn(r), _rec=r) for r in records]
    train, val = split(turns, val_fraction, seed)
    written = {}
    for part, ts in (("train", train), ("val", val)):
        clean = [{k: v for k, v in t.items() if k != "_rec"} for t in ts]
        for fmt in formats:
            path = write_format(out / f"{fmt}.{part}", fmt, clean)
            written[path.name] = len(clean)
        qa_items = to_eval([t["_rec"] for t in ts], kind=f"generated-{part}")  # eval's per-kind table splits them
        if qa_items:
            write_jsonl(out / f"eval.{part}.jsonl", qa_items)
            written[f"eval.{part}.jsonl"] = len(qa_items)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.export", description=export.__doc__)
    p.add_argument("inputs", type=Path, nargs="+", help="generated JSONL files (qa, persona, dialogue)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of groups held out (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated subset of {', '.join(FORMATS)}")
    args = p.parse_args(argv)

    def body() -> int:
        echo_args(args, "export")
        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        unknown = set(formats) - set(FORMATS)
        if unknown:
            raise BadInputError(f"unknown format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}")
        if not 0 <= args.val_fraction < 1:
            raise BadInputError("--val-fraction must be in [0, 1)")
        records = [r for path in args.inputs for r in read_jsonl(path)]
        if not records:
            raise BadInputError("the input files hold no records")
        for name, n in export(records, args.out, args.val_fraction, args.seed, formats).items():
            print(f"{args.out / name}\t{n}")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
