"""Probe: does query expansion by the chat model (keywords appended to the question) lift hit@5?

    python bench/query_expansion.py --name 西游记 --qa ../shared/eval/xiyouji-public.jsonl [--store DIR]

For each answerable item the model writes up to eight names/places/objects for the question (greedy); the
hybrid retriever is asked with and without them. Prints each item and both hit@5 rates.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ASK = "问题：{q}\n写出原著里与这个问题有关的人名、地名、物名等关键词，用空格分开，最多八个，只输出关键词。"


def main() -> int:
    from rag.evaluate import first_hit_rank, load_qa
    from rag.generate.backends import get_backend
    from rag.retrieve import Retriever
    from rag.settings import add_settings_args, settings_from_args

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--qa", type=Path, required=True)
    add_settings_args(ap)  # --store DIR and the other store flags
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args()
    settings = settings_from_args(args)
    retriever, backend = Retriever(settings, args.name), get_backend(settings)
    system = {"role": "system", "content": f"你熟悉小说《{args.name}》。"}
    items = [i for i in load_qa(args.qa) if i["answerable"]]
    plain = expanded = 0
    t0 = time.perf_counter()
    for item in items:
        q = item["question"]
        reply = backend.complete([system, {"role": "user", "content": ASK.format(q=q)}], max_tokens=40, temperature=0)
        keywords = reply.strip().splitlines()[0] if reply.strip() else ""
        h0 = first_hit_rank([p.to_dict() for p in retriever.search(q, args.k)], item) is not None
        h1 = first_hit_rank([p.to_dict() for p in retriever.search(f"{q} {keywords}", args.k)], item) is not None
        plain, expanded = plain + h0, expanded + h1
        print(f"{item['id']}\t{h0}\t{h1}\t{keywords}", flush=True)
    n = len(items)
    print(f"{args.name}\thit@{args.k} plain {plain / n:.2f}\texpanded {expanded / n:.2f}\t"
          f"{(time.perf_counter() - t0) / n:.1f} s/question")
    return 0


if __name__ == "__main__":
    sys.exit(main())
