"""Evidence compaction: is an accepted answer still in the compacted evidence, and how long does it take?

    python bench/compaction_bench.py --name 西游记 --qa ../shared/eval/xiyouji-public.jsonl [--store DIR]

No chat model: a proxy for answer accuracy that costs seconds. context_chars comes from the settings
(e.g. SHUWEN_CONTEXT_CHARS=600, SHUWEN_KIND_BONUS=2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    from rag.answer import compact_evidence
    from rag.evaluate import _norm, load_qa
    from rag.retrieve import Retriever
    from rag.settings import add_settings_args, settings_from_args

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--qa", type=Path, required=True)
    add_settings_args(ap)  # --store DIR and the other store flags
    args = ap.parse_args()
    s = settings_from_args(args)
    r = Retriever(s, args.name)
    emb, lex = r.emb, r.lexical()
    items = [i for i in load_qa(args.qa) if i["answerable"]]
    found, secs = 0, []
    for item in items:
        sources = r.search(item["question"], s.k)
        t = time.perf_counter()
        ev = compact_evidence(item["question"], sources, lambda q: emb.embed_queries([q])[0], emb.embed_passages,
                              lex.tokenizer().tokens, lex.idf(), s.context_chars, s.kind_bonus)
        secs.append(time.perf_counter() - t)
        text = _norm("".join(p.text for p in ev))
        found += any(_norm(a) in text for a in item["answers"])
    print(f"{args.name} context_chars={s.context_chars} kind_bonus={s.kind_bonus}: answer in evidence {found}/{len(items)}, "
          f"compaction p50 {statistics.median(secs):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
