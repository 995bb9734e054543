"""Retrieval variants on a built store: RRF of vector/BM25/window-BM25, with and without a chapter-aware list.

    python bench/retrieval_variants.py --name 西游记 --qa ../shared/eval/xiyouji-public.jsonl [--store DIR]

Scores every chunk once per question (vector cosine, chunk BM25, neighbour-window BM25, whole-chapter
BM25) and prints hit@5 of each fusion variant, so weights can be compared without rebuilding anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def main() -> int:
    from rag.evaluate import first_hit_rank, load_qa
    from rag.retrieve import Retriever, rrf
    from rag.settings import add_settings_args, settings_from_args

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--qa", type=Path, required=True)
    add_settings_args(ap)  # --store DIR and the other store flags
    args = ap.parse_args()
    r = Retriever(settings_from_args(args), args.name)
    lex = r.lexical()
    got = r.collection.get(include=["documents", "metadatas"])
    data = {i: {"text": d, "start": int(m["start"]), "end": int(m["end"])}
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}
    ids = lex.chunk_ids
    pos = {cid: n for n, cid in enumerate(ids)}

    def top(score: np.ndarray, n: int = 50) -> list[str]:
        return [ids[i] for i in np.argsort(-score, kind="stable")[:n]]

    def fused(lists: list[list[str]], weights: list[float] | None = None) -> list[str]:
        return [cid for cid, _ in rrf(lists, 60, weights)]

    variants = {
        "rrf(vector, bm25, window)": lambda b, v, ch: fused(b),
        "+ chapter list w=0.3": lambda b, v, ch: fused(b + [top(z(v) + 0.3 * z(ch))]),
        "+ chapter list w=0.5": lambda b, v, ch: fused(b + [top(z(v) + 0.5 * z(ch))]),
        "+ chapter list w=1.0": lambda b, v, ch: fused(b + [top(z(v) + 1.0 * z(ch))]),
        "+ chapter list w=0.5, counted twice (shipped)": lambda b, v, ch: fused(
            b + [top(z(v) + 0.5 * z(ch))], [1, 1, 1, 2]),
        "bm25 only": lambda b, v, ch: b[1],
        "vector only": lambda b, v, ch: b[0],
        "rrf(vector, bm25)": lambda b, v, ch: fused(b[:2]),
        "rrf(bm25, window)": lambda b, v, ch: fused(b[1:]),
        "rrf(vector 0.5, bm25, window)": lambda b, v, ch: fused(b, [0.5, 1, 1]),
        "rrf(vector, bm25 2, window)": lambda b, v, ch: fused(b, [1, 2, 1]),
        "rrf(vector 0.5, bm25 1.5, window 0.5)": lambda b, v, ch: fused(b, [0.5, 1.5, 0.5]),
    }
    hits: dict[str, list[bool]] = {k: [] for k in variants}
    for item in (i for i in load_qa(args.qa) if i["answerable"]):
        q = item["question"]
        toks = lex.tokenizer().tokens(q)
        sims = np.zeros(len(ids))
        for cid, s in zip(r._ids, r._similarities(q)):
            sims[pos[cid]] = s
        chunk, window = lex.chunks.scores(toks), lex.windows.scores(toks)
        base = [top(sims), [ids[i] for i in np.argsort(-chunk, kind="stable")[:50] if chunk[i] > 0],
                [ids[i] for i in np.argsort(-window, kind="stable")[:50] if window[i] > 0]]
        chap = lex.chapter_scores(q)
        for name, fn in variants.items():
            hits[name].append(first_hit_rank([data[c] for c in fn(base, sims, chap)[:5]], item) is not None)
    for name, h in hits.items():
        print(f"{args.name}\t{name}\thit@5 {sum(h) / len(h):.3f} ({sum(h)}/{len(h)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
