"""`python -m rag …`: thin command-line front ends over the pipeline functions."""

from __future__ import annotations

import argparse
import json
import os
import sys

from rag.errors import ShuWenError
from rag.settings import add_settings_args, settings_from_args


def _retrieve(args: argparse.Namespace) -> int:
    from rag.retrieve import vector_search

    question = args.question.strip()
    if not question:
        raise ShuWenError("the question is empty")
    settings = settings_from_args(args)
    passages = vector_search(settings, args.name or settings.default_novel, question, args.k)
    if args.json:
        print(json.dumps({"chunks": [p.to_dict() for p in passages]}, ensure_ascii=False, indent=2))
    else:
        for i, p in enumerate(passages, 1):
            print(f"[{i}] {p.chapter_title}  score={p.score:.3f}  [{p.start}, {p.end})")
            print(f"    {p.text[:200]}{'…' if len(p.text) > 200 else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="书问 ShuWen: ask a Chinese novel.")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("retrieve", help="show the passages retrieved for a question",
                       description="Vector search over a novel's store.")
    r.add_argument("question", help="the question, e.g. 孙悟空的师父是谁？")
    r.add_argument("--name", help="novel (store) name; default: the settings' default_novel")
    r.add_argument("--k", type=int, help="number of passages (default: setting k)")
    r.add_argument("--json", action="store_true", help="print JSON")
    add_settings_args(r)
    r.set_defaults(func=_retrieve)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ShuWenError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
