"""Sentence vectors stored at build time: do they rank the evidence the model reads better? (issue 19)

    python bench/sentence_vectors.py --book 西游记=../shared/eval/xiyouji-public.jsonl \\
        --book 三国演义=eval/sanguo-own.jsonl --book 青石镇奇案=corpus/青石镇奇案.qa.jsonl --cache /tmp/sv

Every sentence of a built store is embedded once (what a build would store beside the chunks; the time is
reported as the index-time cost) and cached in `--cache`. Then, per answerable item, with no chat model:

- `shipped`: the evidence the shipped settings choose (Asker.choose over the answering pool);
- `stored N/s`: the same formula (question idf in the window + 5 × window similarity − s × passage rank + the
  kind bonus, windows taken with the settings' `window_cover`) over the top N fused passages, the window similarity read from the stored sentence vectors instead
  of embedding the pool's sentences at question time;
- `+sent w`: the fused list fused again (RRF) with the whole book ranked by its best sentence's similarity to the
  question (weight w), then `stored N/s` over it.

Reported: hit@5 of the passage order and shown-evidence hit (an accepted answer stands in the chosen windows),
per book and per kind. The chat model is never loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def book_vectors(settings, name: str, emb, cache: Path) -> tuple[dict, dict, np.ndarray, float]:
    """(chunk text → (sentence spans, first row), chunk text → Passage, sentence vectors, seconds spent embedding,
    0 when cached)."""
    from finetune.common import store_chunks
    from rag.rank import sentences
    from rag.retrieve import Passage

    chunks = store_chunks(settings, name)
    where: dict[str, tuple[list, int]] = {}
    passages: dict = {}
    texts: list[str] = []
    for c in chunks:
        if c.text in where:
            continue
        passages[c.text] = Passage(c.text, c.chapter, c.chapter_title, c.start, c.end, 0.0, c.chunk_id)
        spans = sentences(c.text)
        where[c.text] = (spans, len(texts))
        texts.extend(c.text[a:b] for a, b in spans)
    path = cache / f"{name}-sentences.npy"
    if path.exists():
        vecs = np.load(path)
        if len(vecs) == len(texts):
            return where, passages, vecs, 0.0
    t0 = time.perf_counter()
    from tqdm import tqdm

    parts = [emb.embed_passages(texts[i:i + 256]) for i in tqdm(range(0, len(texts), 256), desc=f"embed {name}",
                                                                 file=sys.stderr)]
    seconds = time.perf_counter() - t0
    vecs = np.concatenate(parts).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    (cache / f"{name}-sentences.json").write_text(json.dumps({"sentences": len(texts), "chunks": len(chunks),
                                                              "seconds": round(seconds, 1)}))
    return where, passages, vecs, seconds


def stored_windows(question: str, passages: list, where: dict, vecs: np.ndarray, q: np.ndarray, tokens, idf: dict,
                   budget: int, kind_bonus: float, slope: float, cover: float = 1.0, max_chars: int = 160,
                   max_sentences: int = 3, kinds: str = "answer", names: tuple[str, ...] = ()) -> list[str]:
    """The texts of the windows the formula (rag/answer.py `compact_evidence`) picks, with window similarity from
    stored sentence vectors; `slope`, `cover`, the window size and the kinds asked for (`answer`: number and place,
    as shipped; `all`: rag/kinds.py's, a book name for 谁 too) can be varied."""
    import heapq

    from rag import answer
    from rag import kinds as all_kinds
    from rag.rank import windows

    if kinds == "all":
        asks_for = all_kinds.asks_for

        def has_kind(piece: str, kind: str | None, question: str) -> bool:
            return all_kinds.has_kind(piece, kind, question, names)
    else:
        asks_for, has_kind = partial(all_kinds.asks_for, among=answer.BONUS_KINDS), all_kinds.has_kind
    words = sorted(set(tokens(question)))
    kind = asks_for(question)
    cands, base, holds = [], [], []
    for r, p in enumerate(passages):
        spans, first = where.get(p.text, ([], 0))
        for i, j in windows(spans, max_chars, max_sentences):
            a, b = spans[i][0], spans[j][1]
            v = vecs[first + i: first + j + 1].sum(axis=0)
            sim = float(v @ q) / (float(np.linalg.norm(v)) or 1.0)
            piece = p.text[a:b]
            cands.append((r, a, b))
            base.append(5.0 * sim - slope * r + (kind_bonus if has_kind(piece, kind, question) else 0.0))
            holds.append([w for w in words if w in piece])
    seen = dict.fromkeys(words, 0)

    def score(i: int) -> float:
        return base[i] + sum(idf.get(w, 0.0) * cover ** seen[w] for w in holds[i])

    heap = [(-score(i), i) for i in range(len(cands))]  # lazy greedy, as compact_evidence
    heapq.heapify(heap)
    chosen: dict[int, list[tuple[int, int]]] = {}
    used = 0
    while heap:
        stale, i = heapq.heappop(heap)
        fresh = -score(i)
        if fresh > stale and heap and (fresh, i) > heap[0]:
            heapq.heappush(heap, (fresh, i))
            continue
        r, a, b = cands[i]
        if any(a < y and x < b for x, y in chosen.get(r, [])) or used + (b - a) > budget:
            continue
        chosen.setdefault(r, []).append((a, b))
        used += b - a
        for w in holds[i]:
            seen[w] += 1
    return [passages[r].text[a:b] for r in sorted(chosen) for a, b in sorted(chosen[r])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--book", action="append", required=True, help="NAME=QA.jsonl (repeatable)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sv"))
    ap.add_argument("--pools", default="5,10,20", help="top-N fused passages the stored formula reads")
    ap.add_argument("--slopes", default="0.3,0.1,0.03", help="passage-rank penalties to try")
    ap.add_argument("--sent-weights", default="0.5,1,2", help="RRF weights of the best-sentence ranking")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from rag.answer import Asker
    from rag.evaluate import _holds_answer, first_hit_rank, load_qa
    from rag.kinds import asks_for
    from rag.retrieve import Retriever, rrf
    from rag.settings import load_settings

    settings = load_settings()
    pools = [int(x) for x in args.pools.split(",")]
    slopes = [float(x) for x in args.slopes.split(",")]
    weights = [float(x) for x in args.sent_weights.split(",")]
    report: dict = {"command": " ".join(["python", "bench/sentence_vectors.py"] + sys.argv[1:]), "books": {}}
    for spec in args.book:
        name, _, qa = spec.partition("=")
        asker = Asker(settings, name, Retriever(settings, name))
        emb, lex = asker.retriever.emb, asker.retriever.lexical()
        where, by_chunk, vecs, seconds = book_vectors(settings, name, emb, args.cache)
        tokens, idf = lex.tokenizer().tokens, lex.idf()
        # the chunk of each sentence row, to rank the whole book by its best sentence
        texts = list(where)
        row_chunk = np.zeros(len(vecs), np.int64)
        for ci, t in enumerate(texts):
            spans, first = where[t]
            row_chunk[first:first + len(spans)] = ci
        rows: dict[str, list[dict]] = {}
        items = [it for it in load_qa(Path(qa)) if it["answerable"]]
        for it in items:
            q_text = it["question"]
            pool50 = asker.retriever.pool(q_text, 50)
            pool = pool50[:max(20, *pools)]
            base = asker.choose(q_text, pool[:asker.pool_size])[0]
            q = np.asarray(emb.embed_queries([q_text])[0], np.float32)
            res = {"shipped": (first_hit_rank([c.passage for c in pool], it),
                               _holds_answer([p.text for p in base], it))}
            passages = [c.passage for c in pool]
            for n in pools:
                for s in slopes:
                    shown = stored_windows(q_text, passages[:n], where, vecs, q, tokens, idf, settings.context_chars,
                                           settings.kind_bonus, s, settings.window_cover)
                    res[f"stored {n}/{s}"] = (res["shipped"][0], _holds_answer(shown, it))
            # the whole book by its best sentence, fused with the shipped order
            sims = vecs @ q
            best = np.full(len(texts), -1.0, np.float32)
            np.maximum.at(best, row_chunk, sims)
            order = np.argsort(-best)[:50]
            by_text = {c.passage.text: c.passage for c in pool50}
            fused_ids = [c.passage.text for c in pool50]
            sent_ids = [texts[i] for i in order]
            for w in weights:
                merged = [t for t, _ in rrf([fused_ids, sent_ids], settings.rrf_k, [1.0, w])][:20]
                ps = [by_text.get(t) or by_chunk[t] for t in merged]
                hit = first_hit_rank(ps, it)
                for n in pools:
                    shown = stored_windows(q_text, ps[:n], where, vecs, q, tokens, idf, settings.context_chars,
                                           settings.kind_bonus, slopes[0], settings.window_cover)
                    res[f"+sent {w} stored {n}/{slopes[0]}"] = (hit, _holds_answer(shown, it))
            for k, (hit, shown) in res.items():
                rows.setdefault(k, []).append({"id": it["id"], "kind": asks_for(q_text) or it.get("kind"),
                                               "hit5": hit is not None and hit <= 5, "shown": shown})
        table = {k: {"hit@5": round(np.mean([r["hit5"] for r in v]), 3),
                     "shown_hit": round(np.mean([r["shown"] for r in v]), 3)} for k, v in rows.items()}
        report["books"][name] = {"qa": qa, "items": len(items), "embed_seconds": round(seconds, 1),
                                 "sentences": int(len(vecs)), "table": table, "rows": rows}
        print(f"\n{name} ({qa}, {len(items)} answerable; {len(vecs)} sentences"
              + (f", embedded in {seconds:.0f} s" if seconds else ", cached") + ")")
        for k, v in table.items():
            print(f"  {k:28s} hit@5 {v['hit@5']:.3f}  shown {v['shown_hit']:.3f}")
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
