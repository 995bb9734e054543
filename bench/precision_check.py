"""Benchmark: does retrieval depend on the CPU? The whole novel indexed with each embedding graph a CPU can get.

    python bench/precision_check.py --novel ../shared/corpus/xiyouji.txt --qa ../shared/eval/xiyouji-public.jsonl

Graphs: fp32 (what `auto` runs on CPUs without VNNI), int8-vnni (what `auto` runs with VNNI) and int8-u8u8
(what `int8` runs without VNNI). The u8u8 graph's integer kernels are exact on every CPU, so its numbers
here are the ones an AVX2-only machine computes. For each graph: index time, chunks/s, hit@5 (hybrid and
vector-only) on the QA items; then every store read with every other graph's query vectors (a store built
on one CPU, read on another): hit@5 and the share of vector top-5 chunk ids that stay the same.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rag.machine import provenance

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

AVX2_ONLY = {"avx", "avx2", "fma", "f16c"}
VNNI = AVX2_ONLY | {"avx512f", "avx512bw", "avx512_vnni"}
GRAPHS = {"fp32": ("fp32", None), "int8-vnni": ("int8", VNNI), "int8-u8u8": ("int8", AVX2_ONLY)}


def use_graph(name: str):
    """Make the embedding layer load `name`'s graph, as a CPU that gets it would; returns its precision."""
    from rag.index import e5_onnx, embeddings

    precision, flags = GRAPHS[name]
    if flags is not None:
        e5_onnx.cpu_flags = lambda: set(flags)
    embeddings._cached.cache_clear()
    return precision



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--novel", type=Path, default=Path("../shared/corpus/xiyouji.txt"))
    ap.add_argument("--qa", type=Path, default=Path("../shared/eval/xiyouji-public.jsonl"))
    ap.add_argument("--graphs", default=",".join(GRAPHS), help="comma-separated: " + ", ".join(GRAPHS))
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args()

    from rag.evaluate import first_hit_rank, load_qa
    from rag.index.build import build_index
    from rag.index.embeddings import get_embeddings
    from rag.retrieve import Retriever
    from rag.settings import load_settings

    items = [i for i in load_qa(args.qa) if i.get("answerable", True)]
    names = args.graphs.split(",")
    root = Path(tempfile.mkdtemp(prefix="precision-check-"))
    result = {**provenance(), "novel": str(args.novel), "items": len(items), "graphs": {}, "cross": {}}
    top: dict[tuple[str, str], list[list[str]]] = {}
    try:
        for name in names:
            s = load_settings(env={}, store_dir=root / name, embedding_precision=use_graph(name))
            get_embeddings(s)  # model load and one-time quantisation are not indexing time
            t = time.time()
            res = build_index(s, args.novel, "book", progress=False)
            secs = time.time() - t
            result["graphs"][name] = {"chunks": res.manifest.chunks, "index_s": round(secs, 1),
                                      "chunks_per_s": round(res.manifest.chunks / secs, 2)}
            print(f"[{name}] indexed {res.manifest.chunks} chunks in {secs:.1f} s", file=sys.stderr, flush=True)
        for store in names:
            for query in [store, *(n for n in names if n != store)]:  # its own graph first
                s = load_settings(env={}, store_dir=root / store, embedding_precision=use_graph(query))
                r = Retriever(s, "book")
                row = {}
                for mode in ("hybrid", "vector"):
                    got = [r.search(i["question"], args.k, mode) for i in items]
                    row[f"{mode} hit@{args.k}"] = round(
                        sum(first_hit_rank(ps, i) is not None for ps, i in zip(got, items)) / len(items), 3)
                    if mode == "vector":
                        top[(store, query)] = [[p.chunk_id for p in ps] for ps in got]
                same = top.get((store, store))
                if same is not None:
                    row[f"vector top-{args.k} ids shared with the store's own graph"] = round(sum(
                        len(set(a) & set(b)) for a, b in zip(top[(store, query)], same)) / (args.k * len(items)), 3)
                result["cross"][f"store {store} / queries {query}"] = row
                print(f"[store {store}, queries {query}] {row}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
