"""Refusal signals per QA item: how well does each separate answerable from unanswerable questions?

    python bench/support_probe.py --name 西游记 --qa eval/xiyouji-unanswerable.jsonl ../shared/eval/xiyouji-public.jsonl \
        --answerable 20 --out /tmp/support.jsonl

For each item the 书问 pipeline builds its evidence; then, with the bundled model:
- you: P("有" vs "没有") for "do the passages contain the answer?" (the shipped support check);
- you_null: the same question with no passages (the model's prior for the question alone);
- book: P(first answer token = "书") on the answer prompt (would the model start "书中没有…"?).
Prints ROC AUC per signal and refusal / answerable-refused counts per threshold.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def auc(pos: list[float], neg: list[float]) -> float:
    """P(a random answerable item scores above a random unanswerable one)."""
    return sum((a > u) + 0.5 * (a == u) for a in pos for u in neg) / (len(pos) * len(neg))


def report(recs: list[dict]) -> None:
    for r in recs:
        r["logit_diff"] = math.log(r["you"] / (1 - r["you"])) - math.log(r["you_null"] / (1 - r["you_null"]))
    ans = [r for r in recs if r["answerable"]]
    un = [r for r in recs if not r["answerable"]]
    print(f"{len(ans)} answerable, {len(un)} unanswerable")
    for key in ("you", "you_null", "logit_diff", "book"):
        print(f"{key}: AUC {auc([r[key] for r in ans], [r[key] for r in un]):.3f}")
    for th in (0.76, 0.78, 0.79, 0.80, 0.81, 0.82, 0.83):
        print(f"you < {th}: refusal {sum(r['you'] < th for r in un) / len(un):.2f}, "
              f"answerable refused {sum(r['you'] < th for r in ans)}/{len(ans)}")


def main() -> int:
    import numpy as np

    from rag.answer import Answer, Asker
    from rag.evaluate import first_hit_rank, load_qa
    from rag.generate.backends import _llama_prompt
    from rag.settings import add_settings_args, settings_from_args

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--qa", type=Path, nargs="+", required=True)
    ap.add_argument("--answerable", type=int, default=20, help="answerable items per file (all unanswerable ones)")
    add_settings_args(ap)  # --store DIR and the other store flags
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--report-only", action="store_true", help="re-score an existing --out file")
    args = ap.parse_args()
    if args.report_only:
        report([json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines()])
        return 0

    asker = Asker(settings_from_args(args), args.name)
    llm = asker.backend.model.client

    def first_probs(messages: list[dict]) -> np.ndarray:
        toks = llm.tokenize(_llama_prompt(llm, messages).encode(), add_bos=False, special=True)
        seen: list[np.ndarray] = []

        def keep(_ids, logits):
            seen.append(np.array(logits, np.float64))
            return logits

        gen = llm.generate(toks, temp=0.0, logits_processor=[keep])
        next(gen)
        gen.close()
        p = np.exp(seen[0] - seen[0].max())
        return p / p.sum()

    yes, no, book = (llm.tokenize(w.encode(), add_bos=False)[0] for w in ("有", "没有", "书"))
    check = asker.prompter.template["check"]
    recs = []
    with open(args.out, "w", encoding="utf-8") as f:
        for path in args.qa:
            items = load_qa(path)
            todo = [i for i in items if not i["answerable"]] + [i for i in items if i["answerable"]][: args.answerable]
            for item in todo:
                q = item["question"]
                res = Answer(q, q)
                msgs = asker.prepare(q, None, res)
                rec = {"id": item["id"], "answerable": item["answerable"], "question": q,
                       "hit": first_hit_rank(res.sources, item) if item["answerable"] else None}
                p0 = first_probs([msgs[0], {"role": "user", "content": check.format(passages="（无）", question=q)}])
                rec["you_null"] = float(p0[yes] / (p0[yes] + p0[no]))
                p1 = first_probs([msgs[0], {"role": "user", "content": check.format(
                    passages=asker.prompter.passages(res.evidence), question=q)}])
                rec["you"] = float(p1[yes] / (p1[yes] + p1[no]))
                rec["book"] = float(first_probs(msgs)[book])
                recs.append(rec)
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()
                print(rec["id"], rec["answerable"], round(rec["you"], 3), round(rec["you_null"], 3),
                      round(rec["book"], 4), file=sys.stderr, flush=True)
    report(recs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
