"""Step 2: persona Q&A (the XiYou reference): a character profile × base questions → in-character answers.

python -m finetune.persona --profile finetune/data/wukong.json --questions finetune/data/persona_questions.txt \
    --samples 3 --out data/persona.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from finetune.common import (
    Progress,
    add_backend_args,
    append_jsonl,
    echo_args,
    read_jsonl,
    settings_for,
    teacher,
    write_jsonl,
)
from finetune.dedup import dedup
from finetune.jsonout import MalformedOutput, ask_json
from finetune.prompter import DataPrompter
from rag.errors import BadInputError, run_main

PROFILE_FIELDS = ("name", "aliases", "identity", "personality", "style", "first_person")


def load_profile(path: Path) -> dict:
    """A character profile: name, aliases, identity, personality, style and the first-person word (俺老孙, 贫僧…)."""
    try:
        profile = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"no such profile: {path}") from None
    except json.JSONDecodeError as e:
        raise BadInputError(f"profile {path} is not valid JSON: {e.msg}") from None
    missing = [f for f in PROFILE_FIELDS if not profile.get(f)]
    if missing:
        raise BadInputError(f"profile {path} lacks {missing} (needs {', '.join(PROFILE_FIELDS)})")
    return profile


def persona_system(profile: dict, prompter: DataPrompter | None = None) -> str:
    """The system prompt that puts a model in character; also the system prompt of the exported data."""
    prompter = prompter or DataPrompter("persona")
    aliases = "、".join(profile["aliases"]) if isinstance(profile["aliases"], list) else profile["aliases"]
    return prompter.template["system"].format(**{**profile, "aliases": aliases})


def clean_answer(text: str, profile: dict) -> str:
    """Drop a leading speaker tag ("孙悟空：") the model sometimes adds."""
    text = text.strip()
    for name in [profile["name"], *profile["aliases"]]:
        for sep in ("：", ":"):
            if text.startswith(name + sep):
                text = text[len(name) + 1:].strip()
    return text


def generate_persona(profile: dict, questions: list[str], complete: Callable[[list[dict]], str], out: Path,
                     samples: int = 3, retries: int = 3, backoff: float = 1.0, fresh: bool = False,
                     progress: bool = True, sleep: Callable[[float], None] = time.sleep) -> dict:
    """`samples` in-character answers per question into `out` (deduplicated; resumable)."""
    from tqdm import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_name(f"{out.stem}.raw.jsonl")
    if fresh:
        raw.unlink(missing_ok=True)
    prog = Progress(out.with_name(f"{out.stem}.progress.jsonl"), fresh)
    prompter = DataPrompter("persona")
    system = persona_system(profile, prompter)
    aliases = "、".join(profile["aliases"])
    jobs = [(q, s) for q in questions for s in range(samples) if f"{q}#{s}" not in prog]
    for q, s in tqdm(jobs, desc="persona", unit="answer", file=sys.stderr, disable=not progress):
        msgs = prompter.messages(**{**profile, "aliases": aliases, "question": q})
        try:
            reply = ask_json(complete, msgs, prompter.schema, prompter.retry, retries, backoff, sleep)
        except MalformedOutput as e:
            prog.mark(f"{q}#{s}", status="malformed", error=str(e))
            continue
        answer = clean_answer(reply["answer"], profile)
        append_jsonl(raw, [{"character": profile["name"], "system": system, "question": q, "answer": answer,
                            "sample": s, "in_voice": profile["first_person"] in answer}])
        prog.mark(f"{q}#{s}", status="ok")
    records = read_jsonl(raw) if raw.exists() else []
    # the same wording twice teaches nothing new; different answers to one question are the point of sampling
    kept, dropped = dedup(records, key=lambda r: r["question"] + "|" + r["answer"], threshold=0.95)
    write_jsonl(out, kept)
    return {"answers": len(records), "duplicates": len(dropped), "kept": len(kept),
            "in_voice": sum(r["in_voice"] for r in kept),
            "malformed": sum(r.get("status") == "malformed" for r in prog.done.values())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.persona", description=generate_persona.__doc__)
    p.add_argument("--profile", type=Path, required=True, help="character profile JSON (see finetune/data/wukong.json)")
    p.add_argument("--questions", type=Path, required=True, help="base questions, one per line")
    p.add_argument("--samples", type=int, default=3, help="answers sampled per question (default 3)")
    p.add_argument("--out", type=Path, required=True, help="output JSONL")
    p.add_argument("--retries", type=int, default=3, help="re-asks after malformed JSON (default 3)")
    p.add_argument("--backoff", type=float, default=1.0, help="seconds before the first re-ask, doubling (default 1)")
    p.add_argument("--fresh", action="store_true", help="start over instead of continuing")
    add_backend_args(p, temperature=0.9, max_tokens=200)
    args = p.parse_args(argv)

    def body() -> int:
        echo_args(args, "persona")
        profile = load_profile(args.profile)
        if not args.questions.is_file():
            raise BadInputError(f"no such questions file: {args.questions}")
        questions = [q.strip() for q in args.questions.read_text(encoding="utf-8").splitlines() if q.strip()]
        complete = teacher(settings_for(args), args)
        stats = generate_persona(profile, questions, complete, args.out,
                                 args.samples, args.retries, args.backoff, args.fresh)
        print(f"[persona] {stats} → {args.out}", file=sys.stderr)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
