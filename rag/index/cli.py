"""Build, update, list or delete the Chroma store of a novel: the `index` command (gen_chroma.py is this)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.errors import run_main
from rag.settings import add_settings_args, settings_from_args

EXAMPLES = """examples:
  python gen_chroma.py --novel corpus/青石镇奇案.txt          # build or update (incremental)
  python gen_chroma.py --novel book.txt --name 书名 --rebuild  # re-embed everything (atomic)
  python gen_chroma.py --novel book.txt --dry-run --json       # load and chunk only
  python gen_chroma.py --list | --delete NAME
(shuwen index … takes the same arguments)"""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Index a Chinese novel (.txt) into 书问's Chroma store.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--novel", type=Path, help="path of the novel (.txt: UTF-8, GB18030/GBK or Big5)")
    action.add_argument("--list", action="store_true", help="list the stores in the library")
    action.add_argument("--delete", metavar="NAME", help="delete a novel's store")
    p.add_argument("--name", help="store name (default: the file name without extension)")
    p.add_argument("--rebuild", action="store_true", help="re-embed every chunk (the old store stays live until done)")
    p.add_argument("--dry-run", action="store_true", help="load and chunk only; nothing is embedded or written")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--chunk-size", type=int, help="characters per chunk (default 600)")
    p.add_argument("--chunk-overlap", type=int, help="overlap between chunks (default 100)")
    p.add_argument("--t2s", action="store_const", const=True, help="convert Traditional to Simplified Chinese")
    p.add_argument("--max-file-mb", type=float, help="refuse files larger than this (default 50)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.list or args.delete:
        from rag.index.store import Library

        lib = Library(settings)
        if args.delete:
            m = lib.delete(args.delete)
            print(json.dumps({"deleted": m.name}, ensure_ascii=False) if args.json else f"deleted {m.name}")
            return 0
        rows = lib.manifests()
        if args.json:
            from dataclasses import asdict

            print(json.dumps([asdict(m) for m in rows], ensure_ascii=False, indent=2))
        else:
            for m in rows:
                print(f"{m.name}\t{m.chapters} chapters\t{m.chunks} chunks\t{m.chars} chars\t{m.embedding_model}")
            if not rows:
                print("(no stores yet)")
        return 0
    if args.dry_run:
        from rag.index.build import load_for

        summary = load_for(settings, args.novel, args.name).summary()
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            print(" ".join(f"{k}={v}" for k, v in summary.items()))
        return 0
    from rag.index.build import build_index

    res = build_index(settings, args.novel, args.name, rebuild=args.rebuild, progress=not args.quiet)
    m = res.manifest
    out = {"name": m.name, "chapters": m.chapters, "chunks": m.chunks, "embedded": res.embedded,
           "reused": res.reused, "removed": res.removed, "up_to_date": res.up_to_date,
           "seconds": m.build_seconds, "store": m.collection}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    elif res.up_to_date:
        print(f"{m.name}: up to date ({m.chunks} chunks)")
    else:
        print(f"{m.name}: {m.chapters} chapters, {m.chunks} chunks; embedded {res.embedded}, "
              f"reused {res.reused}, removed {res.removed} in {m.build_seconds:.1f}s")
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    return run_main(run, args, interrupted="interrupted: the previous store is unchanged")
