"""Benchmark: time to first token and decode speed, 书问's backend vs raw llama-cpp-python, same prompts.

    python bench/answer_bench.py --name 西游记 --qa ../shared/eval/xiyouji-public.jsonl --n 10 --out docs/bench-answer.json

For each question the 书问 pipeline builds its prompt (retrieval → evidence compaction → template); that
exact message list is then streamed through (a) 书问's chat backend (LangChain ChatLlamaCpp) and (b) a
separate raw `llama_cpp.Llama` with the same n_ctx / n_threads / n_batch / temperature / max_tokens, in
alternating order. Each side keeps its own llama.cpp prefix cache, as a long-running service would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


RETELL = "请用三到五句话概括上面的原文片段讲了什么。"


def measure(stream, count_tokens) -> dict:
    """TTFT, total time, completion tokens and decode tokens/s of one streamed reply."""
    t0 = time.perf_counter()
    first, text = None, ""
    for piece in stream:
        if first is None:
            first = time.perf_counter() - t0
        text += piece
    total = time.perf_counter() - t0
    n = count_tokens(text)
    decode = (n - 1) / (total - first) if first is not None and n > 1 and total > first else None
    return {"first_token_s": round(first or total, 3), "total_s": round(total, 3), "tokens": n,
            "decode_tok_s": round(decode, 2) if decode else None, "text": text}


def main() -> int:
    from llama_cpp import Llama

    from rag.answer import Answer, Asker
    from rag.evaluate import load_qa
    from rag.generate.backends import llamacpp_params, resolve_gguf
    from rag.settings import add_settings_args, settings_from_args

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--qa", type=Path, required=True)
    ap.add_argument("--n", type=int, default=10, help="questions (first n answerable items)")
    add_settings_args(ap)  # --store DIR and the other store flags
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    settings = settings_from_args(args)
    asker = Asker(settings, args.name)
    backend = asker.backend
    params = llamacpp_params(settings)
    raw = Llama(model_path=str(resolve_gguf(settings)), verbose=False, **params)

    lc = backend.model  # the same sampling parameters as 书问's ChatLlamaCpp, so both decode the same tokens
    sampling = {"temperature": settings.temperature, "max_tokens": settings.max_tokens, "top_p": lc.top_p,
                "top_k": lc.top_k, "repeat_penalty": lc.repeat_penalty}

    def raw_stream(messages):
        for chunk in raw.create_chat_completion(messages=messages, stream=True, **sampling):
            if piece := chunk["choices"][0]["delta"].get("content"):
                yield piece

    def count(text: str) -> int:
        return len(raw.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0

    items = [i for i in load_qa(args.qa) if i["answerable"]][: args.n]
    rows = []
    for n, item in enumerate(items):
        t = time.perf_counter()
        res = Answer(item["question"], item["question"])
        messages = asker.prepare(item["question"], None, res)
        prep, timings = time.perf_counter() - t, res.timings
        prompt_tokens = len(raw.tokenize(json.dumps(messages, ensure_ascii=False).encode("utf-8"), add_bos=False))
        # decode speed needs a longer reply than a short answer: the same evidence, asked for a summary
        retell = [messages[0], {"role": "user", "content": messages[1]["content"].rsplit("问题：", 1)[0] + RETELL}]
        row = {"id": item["id"], "prepare_s": round(prep, 3), **timings, "prompt_tokens_approx": prompt_tokens}
        for suffix, msgs in (("", messages), ("_retell", retell)):
            order = [("shuwen", lambda m=msgs: backend.stream(m)), ("raw", lambda m=msgs: raw_stream(m))]
            for label, make in (order if n % 2 == 0 else order[::-1]):
                row[label + suffix] = measure(make(), count)
        rows.append(row)
        print(json.dumps({k: (v if not isinstance(v, dict) else {x: y for x, y in v.items() if x != "text"})
                          for k, v in row.items()}, ensure_ascii=False), file=sys.stderr, flush=True)

    def med(label: str, key: str) -> float | None:
        vals = [r[label][key] for r in rows if r[label][key] is not None]
        return round(statistics.median(vals), 3) if vals else None

    summary = {"questions": len(rows), "params": params, "prepare_s_p50": round(statistics.median(r["prepare_s"] for r in rows), 3)}
    for label in ("shuwen", "raw", "shuwen_retell", "raw_retell"):
        summary[label] = {k: med(label, k) for k in ("first_token_s", "total_s", "decode_tok_s")}
        summary[label]["tokens_total"] = sum(r[label]["tokens"] for r in rows)
    for suffix in ("", "_retell"):
        a, b = summary["shuwen" + suffix]["decode_tok_s"], summary["raw" + suffix]["decode_tok_s"]
        if a and b:
            summary["decode_ratio_shuwen_over_raw" + suffix] = round(a / b, 3)
    summary["same_text_retell"] = sum(r["shuwen_retell"]["text"] == r["raw_retell"]["text"] for r in rows)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.out:
        from rag.machine import provenance

        args.out.write_text(json.dumps({**provenance(settings), "summary": summary, "rows": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
