"""How the evidence windows are picked from the pool: coverage of the question's parts, window size, pool depth.

    python bench/window_select.py --book 西游记=../shared/eval/xiyouji-public.jsonl \\
        --book 三国演义=eval/sanguo-own.jsonl --book 青石镇奇案=corpus/青石镇奇案.qa.jsonl --cache /tmp/sv

The shipped formula (rag/answer.py `compact_evidence`) scores every sentence window of the top 5 passages once
(question idf in the window + 5 × window similarity − 0.3 × passage rank + kind bonus) and fills the budget with
the best. A multi-part question (在流沙河被唐僧收服的那个妖怪，当初在天上是因为打碎了什么被贬下界的？) then fills it
with windows about its first part, which all score high on the same words. The variants here:

- `cover d`: greedy selection that counts a question word's idf at d^n once n chosen windows already hold it
  (d = 1 is the shipped formula; d < 1 makes the next window cover the parts not yet covered);
- `pool N/s`: the top N fused passages with passage-rank penalty s;
- `win C/S`: windows of at most C characters and S sentences.

Window similarity comes from each sentence's vector (bench/sentence_vectors.py's cache; the same vectors the
question-time embedding would give). Reported: shown-evidence hit (an accepted answer stands in the chosen
windows) per split and per kind. The chat model is never loaded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--book", action="append", required=True, help="NAME=QA.jsonl[,QA2.jsonl] (repeatable)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sv"))
    ap.add_argument("--covers", default="1,0.7,0.5,0.3,0")
    ap.add_argument("--pools", default="5/0.3,8/0.3,10/0.1")
    ap.add_argument("--wins", default="160/3,120/2,80/1")
    ap.add_argument("--kinds", default="answer", choices=("answer", "all"),
                    help="answer (number, place: rag/answer.py, as shipped) or all (rag/kinds.py)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from sentence_vectors import book_vectors, stored_windows

    from rag.answer import Asker
    from rag.evaluate import _holds_answer, load_qa
    from rag.kinds import asks_for
    from rag.retrieve import Retriever
    from rag.settings import load_settings

    settings = load_settings()
    covers = [float(x) for x in args.covers.split(",")]
    pools = [(int(n), float(s)) for n, s in (x.split("/") for x in args.pools.split(","))]
    wins = [(int(c), int(s)) for c, s in (x.split("/") for x in args.wins.split(","))]
    report: dict = {"command": " ".join(["python", "bench/window_select.py"] + sys.argv[1:]), "splits": {}}
    for spec in args.book:
        name, _, qas = spec.partition("=")
        asker = Asker(settings, name, Retriever(settings, name))
        emb, lex = asker.retriever.emb, asker.retriever.lexical()
        where, _, vecs, _ = book_vectors(settings, name, emb, args.cache)
        tokens, idf = lex.tokenizer().tokens, lex.idf()
        items = [it for qa in qas.split(",") for it in load_qa(Path(qa)) if it["answerable"]]
        split = f"{name}:{'+'.join(Path(qa).stem for qa in qas.split(','))}"
        pool_cache = args.cache / f"pools-{split.replace(':', '-').replace('+', '_')}.pkl"
        if pool_cache.exists():
            pooled = pickle.loads(pool_cache.read_bytes())
        else:
            pooled = {}
            for it in items:
                pool = asker.retriever.pool(it["question"], 20)
                shipped = asker.choose(it["question"], pool[:asker.pool_size])[0]
                pooled[it["id"]] = ([c.passage for c in pool], np.asarray(emb.embed_queries([it["question"]])[0],
                                                                            np.float32),
                                    _holds_answer([p.text for p in shipped], it))
            pool_cache.write_bytes(pickle.dumps(pooled))
        rows: dict[str, list[dict]] = {"shipped": [{"id": it["id"], "kind": asks_for(it["question"]) or it.get("kind"),
                                                    "shown": pooled[it["id"]][2]} for it in items]}
        for (n, s), (c, ms), d in itertools.product(pools, wins, covers):
            key = f"pool {n}/{s} win {c}/{ms} cover {d}"
            rows[key] = []
            for it in items:
                passages, q, _ = pooled[it["id"]]
                shown = stored_windows(it["question"], passages[:n], where, vecs, q, tokens, idf, settings.context_chars,
                                       settings.kind_bonus, s, d, c, ms, kinds=args.kinds, names=tuple(lex.names))
                rows[key].append({"id": it["id"], "kind": asks_for(it["question"]) or it.get("kind"),
                                  "shown": _holds_answer(shown, it)})
        table = {k: round(float(np.mean([r["shown"] for r in v])), 3) for k, v in rows.items()}
        report["splits"][split] = {"items": len(items), "table": table, "rows": rows}
        print(f"\n{split} ({len(items)} answerable)")
        for k, v in table.items():
            print(f"  {k:40s} shown {v:.3f}")
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
