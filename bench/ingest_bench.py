"""Benchmark: whole-novel indexing time and retrieval hit@k, 书问 vs a reference-style pipeline.

    python bench/ingest_bench.py --novel ../shared/corpus/xiyouji.txt --qa ../shared/eval/xiyouji-public.jsonl

Reference = LangChain RecursiveCharacterTextSplitter(600, 100) defaults + HuggingFaceEmbeddings (same
e5-small weights, fp32 sentence-transformers) + Chroma.from_documents. Both run in this process, one
after the other, on fresh temporary stores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def hit_at_k(spans_per_q: list[list[tuple[int, int, str]]], items: list[dict], k: int) -> float:
    """Share of items where a top-k chunk contains an evidence string or overlaps its offsets."""
    hits = 0
    for spans, item in zip(spans_per_q, items):
        ok = False
        for start, end, text in spans[:k]:
            if any(e in text for e in item["evidence"]) or any(
                    start < b and a < end for a, b in item["evidence_offsets"]):
                ok = True
                break
        hits += ok
    return hits / len(items)


def run_shuwen(novel: Path, items: list[dict], k: int) -> dict:
    from rag.index.build import build_index
    from rag.retrieve import vector_search
    from rag.settings import load_settings

    store = Path(tempfile.mkdtemp(prefix="shuwen-bench-"))
    try:
        s = load_settings(store_dir=store)
        from rag.index.embeddings import get_embeddings

        get_embeddings(s)  # model load is not indexing time
        t = time.time()
        res = build_index(s, novel, "bench", progress=False)
        build_s = time.time() - t
        t = time.time()
        again = build_index(s, novel, "bench", progress=False)
        rerun_s = time.time() - t
        assert again.up_to_date
        spans = [[(p.start, p.end, p.text) for p in vector_search(s, "bench", it["question"], k)] for it in items]
        return {"chunks": res.manifest.chunks, "index_s": round(build_s, 1),
                "chunks_per_s": round(res.manifest.chunks / build_s, 1), "rerun_s": round(rerun_s, 1),
                "hit@5": hit_at_k(spans, items, 5), f"hit@{k}": hit_at_k(spans, items, k)}
    finally:
        shutil.rmtree(store, ignore_errors=True)


def run_reference(novel: Path, items: list[dict], k: int) -> dict:
    import chromadb
    from chromadb.config import Settings as CS
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.index.e5_onnx import ensure_model
    from rag.settings import load_settings

    hf = ensure_model(load_settings().cache_dir) / "hf"
    emb = HuggingFaceEmbeddings(model_name=str(hf), encode_kwargs={"normalize_embeddings": True})
    text = novel.read_text(encoding="utf-8-sig")
    t = time.time()
    splitter = RecursiveCharacterTextSplitter(chunk_size=600, chunk_overlap=100, add_start_index=True)
    docs = splitter.create_documents([text])
    store = Path(tempfile.mkdtemp(prefix="ref-bench-"))
    try:
        client = chromadb.PersistentClient(path=str(store), settings=CS(anonymized_telemetry=False))
        # the reference passes raw chunks (no e5 "passage: " prefix) and raw questions
        db = Chroma.from_documents(docs, emb, client=client, collection_name="ref")
        build_s = time.time() - t
        spans = []
        for it in items:
            hits = db.similarity_search(it["question"], k=k)
            spans.append([(d.metadata["start_index"], d.metadata["start_index"] + len(d.page_content),
                           d.page_content) for d in hits])
        return {"chunks": len(docs), "index_s": round(build_s, 1), "chunks_per_s": round(len(docs) / build_s, 1),
                "hit@5": hit_at_k(spans, items, 5), f"hit@{k}": hit_at_k(spans, items, k)}
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--novel", type=Path, default=Path("../shared/corpus/xiyouji.txt"))
    p.add_argument("--qa", type=Path, default=Path("../shared/eval/xiyouji-public.jsonl"))
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--skip-reference", action="store_true")
    p.add_argument("--out", type=Path, help="also write the JSON result here")
    a = p.parse_args()
    items = [json.loads(x) for x in a.qa.read_text(encoding="utf-8").splitlines() if x.strip()]
    items = [i for i in items if i.get("answerable", True)]
    from rag.machine import provenance

    result = {**provenance(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "novel": str(a.novel), "questions": len(items), "shuwen": run_shuwen(a.novel, items, a.k)}
    print(json.dumps(result, ensure_ascii=False), flush=True)
    if not a.skip_reference:
        result["reference"] = run_reference(a.novel, items, a.k)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
