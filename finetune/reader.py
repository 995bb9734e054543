"""Rebuild the reading LoRA from its recipe: cloze data from the book → export → bf16 LoRA → GGUF LoRA (`make reader`).

python -m finetune.reader [--recipe finetune/reader/recipe.json] [--work runs/reader]
Every step is one of the kit's commands with the recipe's knobs, echoed before it runs; a step whose output exists
is skipped (training resumes from its last checkpoint; the conversion always runs), so an interrupted rebuild continues where it stopped.
The adapter is written beside its old version and moved into place only when the conversion has finished.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rag.errors import BadInputError, ShuWenError, run_main

RECIPE = Path(__file__).parent / "reader" / "recipe.json"


def flags(knobs: dict) -> list[str]:
    """{"lora_r": 8, "cpu_fallback": True} → ["--lora-r", "8", "--cpu-fallback"]."""
    out: list[str] = []
    for k, v in knobs.items():
        flag = "--" + k.replace("_", "-")
        out += [flag] if v is True else [] if v is False else [flag, str(v)]
    return out


def plan(recipe: dict, work: Path, out: Path) -> list[tuple[str, Path, Callable[[list[str]], int], list[str]]]:
    """(step, the file it makes, its command's main, its arguments), in order."""
    from finetune import cloze, export, to_gguf, train

    data, lora = work / "data", work / "lora"
    ex = recipe.get("export", {})
    return [
        ("cloze", work / "cloze.jsonl", cloze.main,
         ["--name", recipe["book"], "--out", str(work / "cloze.jsonl"), *flags(recipe.get("cloze", {}))]),
        ("export", data / "messages.train.jsonl", export.main,
         [str(work / "cloze.jsonl"), "--out", str(data), "--val-fraction", str(ex.get("val_fraction", 0.1)),
          "--seed", str(ex.get("seed", 0))]),
        ("train", lora / "adapter_config.json", train.main,
         ["--base", "bundled", "--data", str(data / "messages.train.jsonl"), "--val-data",
          str(data / "messages.val.jsonl"), "--output-dir", str(lora), *flags(recipe.get("train", {}))]),
        ("gguf", out, to_gguf.main, ["lora", "--adapter", str(lora), "--out", str(out.with_suffix(".tmp.gguf"))]),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.reader", description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", type=Path, default=RECIPE, help=f"the recipe (default {RECIPE})")
    p.add_argument("--work", type=Path, default=Path("runs/reader"), help="data and checkpoints (default runs/reader)")
    p.add_argument("--out", type=Path, help="the GGUF LoRA to write (default: the recipe's `out`)")
    p.add_argument("--dry-run", action="store_true", help="print the steps and stop")
    args = p.parse_args(argv)

    def body() -> int:
        try:
            recipe = json.loads(args.recipe.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise BadInputError(f"cannot read the recipe {args.recipe}: {e}") from None
        out = args.out or Path(recipe["out"])
        args.work.mkdir(parents=True, exist_ok=True)
        for step, made, run, step_args in plan(recipe, args.work, out):
            # the conversion always runs (seconds): the adapter in the repository may be an older one
            done = step != "gguf" and made.exists() and (step != "train" or (made.parent / "shuwen-train.json").exists())
            print(f"[reader] {step}: {' '.join(step_args)}" + ("  (done, skipped)" if done else ""), file=sys.stderr)
            if done or args.dry_run:
                continue
            if run(step_args) != 0:
                raise ShuWenError(f"step {step} failed; fix it and run again (finished steps are kept)")
            if step == "gguf":
                os.replace(out.with_suffix(".tmp.gguf"), out)
        if not args.dry_run:
            print(f"[reader] {out} ({out.stat().st_size / 2**20:.1f} MB)", file=sys.stderr)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
