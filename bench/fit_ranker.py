"""Fit the evidence window ranker (rag/rank_weights.json) on the public items, checked leave-one-book-out.

    python bench/fit_ranker.py --book 西游记=../shared/eval/xiyouji-public.jsonl \\
        --book 三国演义=eval/sanguo-own.jsonl --book 青石镇奇案=corpus/青石镇奇案.qa.jsonl --cache /tmp/rank --write

Every window of the top `--pool` fused passages of each answerable item is one example, labelled 1 when it holds an
accepted answer. Two logistic regressions (scikit-learn: standardised features, balanced classes, since a question has
a few positive windows among hundreds) are fitted: `coarse` without window similarity (it picks the passages whose
sentences are embedded) and `full` with it. Each book in turn is scored by models fitted on the others: the share of
items whose chosen evidence (context_chars, best window first) holds an answer, beside the first formula on the top 5
and on the whole pool. Test splits are never read here. --write fits on every book and writes the weights with what
they were fitted on and the leave-one-book-out table.

`--cloze NAME=N` adds N questions masked from a store's own narrative sentences (finetune/cloze.py; labels: the
windows holding the masked sentence) and scores, per public book, models fitted on the cloze questions alone and on
them with the other books' items (columns cloze_fit, cloze_plus_public). `--cloze-keep 0.7` drops each other word of
a cloze question with chance 0.3, so it does not repeat its sentence whole.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def collect(settings, name: str, qa: Path | list[dict], pool_n: int, cache: Path | None = None, tag: str = ""):
    """(asker, per answerable item: (item, pool, windows with every feature)); cached in `cache` when given."""
    from rag.answer import Asker
    from rag.evaluate import load_qa
    from rag.rank import add_similarity, window_features
    from rag.retrieve import Retriever

    asker = Asker(settings, name, Retriever(settings, name))
    path = cache / f"{name}-{tag or Path(qa).stem}-{pool_n}.pkl" if cache else None
    if path and path.exists():
        return asker, pickle.loads(path.read_bytes())
    emb = asker.retriever.emb
    out = []
    from tqdm import tqdm

    for item in tqdm(load_qa(qa) if isinstance(qa, Path) else qa, desc=f"featurise {name}", file=sys.stderr):
        if not item["answerable"]:
            continue
        pool = asker.retriever.pool(item["question"], pool_n)
        wins = window_features(item["question"], pool, asker.book())
        add_similarity(item["question"], pool, wins, lambda q: emb.embed_queries([q])[0], emb.embed_passages)
        out.append((item, pool, wins))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(out))
    return asker, out


def cloze_items(settings, name: str, n: int, seed: int = 0, keep: float = 1.0) -> list[dict]:
    """`n` questions masked from the book's own narrative sentences (finetune/cloze.py), as eval items whose `gold` is
    the masked sentence; with `keep` < 1 each other word of the question is kept with that chance, so the gold
    sentence does not repeat the whole question (reader questions paraphrase)."""
    import random

    from finetune.cloze import book_people, book_places, find_clozes
    from finetune.common import store_chunks
    from rag.ingest.speech import lines_by_speaker
    from rag.retrieve import Retriever

    chunks = store_chunks(settings, name)
    lex = Retriever(settings, name).lexical()
    names = book_people(lex.people, lines_by_speaker("".join(c.text for c in chunks)))
    places = book_places(lex.words, names)
    rng = random.Random(seed)
    order = list(chunks)
    rng.shuffle(order)
    out, seen = [], set()
    for chunk in order:
        found = [c for c in find_clozes(chunk, names, places) if chunk.text[slice(*c.sentence)] not in seen]
        if not found:
            continue
        c = rng.choice(found)
        sentence = chunk.text[slice(*c.sentence)].strip()
        seen.add(sentence)
        q = c.question
        if keep < 1:
            wh = "多少" if c.kind == "number" else {"person": "谁", "place": "哪里"}[c.kind]
            parts = q.rstrip("？").split(wh, 1)
            words = [lex.tokenizer().tokens(part) for part in parts]
            q = wh.join("".join(w for w in ws if rng.random() < keep or w in names) for ws in words) + "？"
        out.append({"id": f"cloze-{name}-{len(out)}", "question": q, "answers": [c.span], "answerable": True,
                    "gold": sentence, "kind": c.kind})
        if len(out) >= n:
            break
    return out


def labels(item: dict, pool, wins) -> np.ndarray:
    """1 for each window that holds an accepted answer (a cloze item: that holds its masked sentence)."""
    from rag.evaluate import _norm

    if item.get("gold"):
        return np.array([item["gold"] in pool[w.row].passage.text[w.start:w.end] for w in wins], int)
    answers = [_norm(a) for a in item["answers"] if _norm(a)]
    return np.array([any(a in _norm(pool[w.row].passage.text[w.start:w.end]) for a in answers) for w in wins], int)


def fit(rows, names: tuple[str, ...]) -> dict:
    """One logistic regression over `names` (and their relative forms) on every window of `rows`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from rag.rank import design

    x = np.vstack([design(w, names) for _, _, w in rows if w])
    y = np.concatenate([labels(i, p, w) for i, p, w in rows if w])
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000).fit(scaler.transform(x), y)
    return {"features": list(names), "mean": scaler.mean_.round(6).tolist(), "scale": scaler.scale_.round(6).tolist(),
            "coef": lr.coef_[0].round(6).tolist(), "intercept": round(float(lr.intercept_[0]), 6),
            "examples": int(len(y)), "positives": int(y.sum())}


def fit_both(rows) -> dict:
    from rag.rank import COARSE, FEATURES

    return {"coarse": fit(rows, COARSE), "full": fit(rows, FEATURES)}


def shown_hit(asker, rows, weights: dict | None, budget: int, top: int = 0, embed_n: int = 8) -> float:
    """Share of items whose chosen evidence holds an answer: the learned ranker (weights) or the formula (None)."""
    from rag.evaluate import _holds_answer
    from rag.rank import as_evidence, score, select

    hits = 0
    for item, pool, wins in rows:
        if weights is None:
            ev = asker.compact(item["question"], [c.passage for c in pool[: top or len(pool)]])
        else:  # rank_windows without re-embedding: the cached windows already carry win_sim
            score(wins, weights["coarse"])
            best: dict[int, float] = {}
            for w in wins:
                best[w.row] = max(best.get(w.row, -1e18), w.score)
            keep = set(sorted(best, key=lambda r: (-best[r], r))[:embed_n])
            kept = [w for w in wins if w.row in keep]
            score(kept, weights["full"])
            ev = as_evidence(select(kept, budget), pool)
        hits += _holds_answer([p.text for p in ev], item)
    return round(hits / max(1, len(rows)), 3)


def main() -> int:
    from rag.settings import add_settings_args, settings_from_args

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--book", action="append", required=True, metavar="NAME=QA.jsonl", help="a store and its public items")
    ap.add_argument("--cloze", action="append", default=[], metavar="NAME=N",
                    help="also fit on N cloze questions masked from this store's own sentences (repeatable)")
    ap.add_argument("--cloze-keep", type=float, default=1.0,
                    help="chance each other word of a cloze question is kept (default 1.0: the whole sentence)")
    ap.add_argument("--fit-on", choices=("public", "cloze", "both"), default="public",
                    help="what --write fits on (default public)")
    ap.add_argument("--pool", type=int, default=20, help="fused passages per question (default 20)")
    ap.add_argument("--write", action="store_true", help="fit on every book and write rag/rank_weights.json")
    ap.add_argument("--out", type=Path, help="also write the leave-one-book-out table as JSON here")
    ap.add_argument("--cache", type=Path, help="keep each book's pools and window features here (refits take seconds)")
    add_settings_args(ap)
    args = ap.parse_args()
    settings = settings_from_args(args).replace(window_ranker="formula")
    books = {}
    for spec in args.book:
        name, _, qa = spec.partition("=")
        print(f"[fit] {name}: pooling and featurising …", file=sys.stderr, flush=True)
        books[name] = collect(settings, name, Path(qa), args.pool, args.cache)
    cloze: dict[str, list] = {}
    for spec in args.cloze:
        name, _, n = spec.partition("=")
        items = cloze_items(settings, name, int(n), keep=args.cloze_keep)
        print(f"[fit] {name}: {len(items)} cloze questions, e.g. {[i['question'] for i in items[:3]]}", file=sys.stderr)
        cloze[name] = collect(settings, name, items, args.pool, args.cache,
                              tag=f"cloze{n}-keep{args.cloze_keep}")[1]
    cloze_rows = [r for rows in cloze.values() for r in rows]
    budget = settings.context_chars
    table = {}
    for held in books:
        asker, rows = books[held]
        others = [r for b, (_, rs) in books.items() if b != held for r in rs]
        w = fit_both(others)
        table[held] = {"items": len(rows), "formula_top5": shown_hit(asker, rows, None, budget, 5),
                       f"formula_top{args.pool}": shown_hit(asker, rows, None, budget),
                       f"learned_top{args.pool}": shown_hit(asker, rows, w, budget, embed_n=settings.evidence_embed)}
        if cloze_rows:
            table[held]["cloze_fit"] = shown_hit(asker, rows, fit_both(cloze_rows), budget,
                                                 embed_n=settings.evidence_embed)
            table[held]["cloze_plus_public"] = shown_hit(asker, rows, fit_both(cloze_rows + others), budget,
                                                         embed_n=settings.evidence_embed)
        print(f"{held}: {table[held]}", flush=True)
    if args.out:
        from rag.machine import cpu, revision

        args.out.write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "revision": revision(),
                                        "cpu": cpu(), "settings": settings.record(), "table": table},
                                       ensure_ascii=False, indent=1), encoding="utf-8")
    if args.write:
        from rag.rank import WEIGHTS

        public = [r for _, rows in books.values() for r in rows]
        w = fit_both({"public": public, "cloze": cloze_rows, "both": cloze_rows + public}[args.fit_on])
        w["fitted_on"] = {"books": {n: s.partition("=")[2] for n, s in zip(books, args.book)} if args.fit_on != "cloze"
                          else {}, "cloze": {n: len(r) for n, r in cloze.items()} if args.fit_on != "public" else {},
                          "cloze_keep": args.cloze_keep, "pool": args.pool,
                          "model": "sklearn LogisticRegression(C=1, class_weight=balanced) on StandardScaler",
                          "date": datetime.date.today().isoformat()}
        w["leave_one_book_out"] = table
        WEIGHTS.write_text(json.dumps(w, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
