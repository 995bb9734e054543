"""Many readers at once through `python -m rag serve`: N concurrent openai-SDK clients, M questions each.

Starts the server on a free loopback port (the configured store and chat model), then for each N reports
errors, crossed answers (a reply naming another concurrent question's answer and not its own), accuracy,
queue wait and total latency p50/p95 and answers per minute; finally retrieval-only requests per second
with many concurrent clients. One model answers one question at a time, so answers per minute is the
model's throughput and the queue wait grows with N; the point is that nothing errs or crosses.

    python bench/load.py [--name 青石镇奇案] [--clients 1,4,16] [--questions 2] [--out docs/bench-load.json]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import socket
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# sample-novella questions whose one right answer no other question shares
QUESTIONS = [
    ("裕丰当的东家是谁？", ["钱有道"]),
    ("最后从山洞里清点出多少官银？", ["七万六千两", "七十六箱"]),
    ("沈墨白写信向江州府的哪位捕头求援？", ["秦大勇", "秦捕头"]),
    ("沈墨白那把剑叫什么名字？", ["寒汀"]),
    ("青石镇离江州府有多远？", ["六十里"]),
    ("沈墨白过河时付给艄公多少船钱？", ["三十文"]),
    ("胡德茂当年花多少钱盘下了那家客栈？", ["五百两"]),
    ("那位林公子拿玉佩当了多少银子？", ["三百二十两", "叁佰贰拾两"]),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 2) if xs else None


def ask_stream(client, name: str, question: str) -> dict:
    """One streamed answer: queue position, first-token and total latency, the final `shuwen` object."""
    t0 = time.perf_counter()
    out = {"question": question, "text": "", "error": None, "first_token_s": None}
    try:
        for chunk in client.chat.completions.create(model=name, stream=True,
                                                    messages=[{"role": "user", "content": question}]):
            info = chunk.model_extra.get("shuwen") or {}
            if "queue_position" in info and "answer" not in info:
                out["queue_position"] = info["queue_position"]
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece and out["first_token_s"] is None:
                out["first_token_s"] = time.perf_counter() - t0
            out["text"] += piece or ""
            if "answer" in info:
                out["queue_s"] = info["timings"].get("queue_s")
    except Exception as e:  # noqa: BLE001 — every failure counts as an error of the run
        out["error"] = f"{type(e).__name__}: {e}"[:200]
    out["total_s"] = time.perf_counter() - t0
    return out


def run_round(url: str, name: str, n: int, m: int) -> dict:
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key=os.environ.get("SHUWEN_BENCH_KEY", "unused"),
                           max_retries=0, timeout=3600)

    def reader(i: int) -> list[dict]:
        res = []
        for j in range(m):
            q, answers = QUESTIONS[(i + j) % len(QUESTIONS)]
            r = ask_stream(client, name, q)
            r["answers"] = answers
            res.append(r)
        return res

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(n) as pool:
        results = [r for rs in pool.map(reader, range(n)) for r in rs]
    wall = time.perf_counter() - t0
    errors = [r for r in results if r["error"]]
    ok = [r for r in results if not r["error"]]
    every = {a for _, answers in QUESTIONS for a in answers}
    crossed = [r for r in ok if not any(a in r["text"] for a in r["answers"])
               and any(a in r["text"] for a in every - set(r["answers"]))]
    return {"clients": n, "questions_each": m, "answers": len(results), "errors": len(errors),
            "error_samples": [r["error"] for r in errors[:3]], "crossed": len(crossed),
            "correct": round(sum(any(a in r["text"] for a in r["answers"]) for r in ok) / max(len(ok), 1), 3),
            "queue_wait_p50_s": pct([r.get("queue_s") or 0.0 for r in ok], 50),
            "queue_wait_p95_s": pct([r.get("queue_s") or 0.0 for r in ok], 95),
            "first_token_p50_s": pct([r["first_token_s"] for r in ok if r["first_token_s"]], 50),
            "total_p50_s": pct([r["total_s"] for r in ok], 50), "total_p95_s": pct([r["total_s"] for r in ok], 95),
            "answers_per_min": round(len(ok) / wall * 60, 2), "wall_s": round(wall, 1)}


def run_search(url: str, name: str, clients: int, each: int) -> dict:
    import httpx

    def reader(i: int) -> list[float]:
        lat = []
        with httpx.Client(base_url=url, timeout=120,
                          headers={"Authorization": f"Bearer {os.environ.get('SHUWEN_BENCH_KEY', 'unused')}"}) as h:
            for j in range(each):
                q = QUESTIONS[(i + j) % len(QUESTIONS)][0]
                t = time.perf_counter()
                h.get(f"/v1/novels/{name}/search", params={"q": q, "k": 5}).raise_for_status()
                lat.append(time.perf_counter() - t)
        return lat

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        lat = [x for xs in pool.map(reader, range(clients)) for x in xs]
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": len(lat), "rps": round(len(lat) / wall, 1),
            "p50_ms": round(pct(lat, 50) * 1000, 1), "p95_ms": round(pct(lat, 95) * 1000, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", default="青石镇奇案", help="novel to ask (its store must exist)")
    p.add_argument("--clients", default="1,4,16", help="concurrent clients per round (comma-separated)")
    p.add_argument("--questions", type=int, default=2, help="questions per client per round")
    p.add_argument("--search-clients", type=int, default=32, help="concurrent retrieval-only clients")
    p.add_argument("--search-requests", type=int, default=10, help="retrieval requests per client")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args()
    cpu = sorted(set(open("/proc/cpuinfo").read().split()) & {"avx2", "avx512_vnni", "amx_int8", "avx_vnni"})
    from api.process import rag_serve

    with rag_serve(free_port(), {}, ROOT / "test-artifacts" / "bench-load-server.log") as served:
        url = served.url
        run_round(url, args.name, 1, 1)  # warm-up: prompt cache, BM25 index
        rounds = []
        for n in (int(x) for x in args.clients.split(",")):
            r = run_round(url, args.name, n, args.questions)
            print(json.dumps(r, ensure_ascii=False), flush=True)
            rounds.append(r)
        search = run_search(url, args.name, args.search_clients, args.search_requests)
        print(json.dumps(search), flush=True)
    from rag.machine import provenance

    out = {**provenance(), "command": "python bench/load.py " + " ".join(sys.argv[1:]), "cpu_flags": cpu, "cores": os.cpu_count(),
           "novel": args.name, "rounds": rounds, "search": search}
    if args.out:
        args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
