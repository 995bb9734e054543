"""Web-novel scale: make a ≥ 5,000,000-character novel from the public-domain texts in ../shared, upload it
through `rag serve` (the 15 MB file over HTTP), and measure the build while other readers keep asking.

The book: 西游记 and 三国演义 cut into chapters and re-issued as numbered 第N章 volumes until the size is
reached; each re-issue opens its chapters with a different short 卷 note, so chunk boundaries (hence
chunks) differ between volumes as in a real serial, and every 20th chapter is posted twice word for word,
as web-novel sites do, so duplicate chunks are exercised too.

Reports: build time and chunks/s (job progress), peak RSS of the server process during the build over its
RSS before, store size on disk, answers to another novel during the build (count, errors, latency p50/p95),
then a fresh process's first question (opening the store and its BM25 index) and retrieval p50/p95.

    python bench/webnovel.py make --out /tmp/webnovel.txt [--chars 5000000]
    python bench/webnovel.py run --novel /tmp/webnovel.txt [--out docs/bench-webnovel.json]
    python bench/webnovel.py page --novel /tmp/webnovel.txt      # the same file through the page's 书库
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

HEADING = re.compile(r"^\s*(?:正文\s*)?(?:《》目录\s*)?第[零一二三四五六七八九十百千]+回.*$", re.M)


def chapters_of(path: Path) -> list[str]:
    """The chapter bodies of a 回-numbered novel (headings dropped)."""
    text = path.read_text(encoding="utf-8-sig")
    marks = [m.start() for m in HEADING.finditer(text)]
    return [text[a:b].split("\n", 1)[1].strip() for a, b in zip(marks, marks[1:] + [len(text)]) if "\n" in text[a:b]]


def make(out: Path, chars: int) -> dict:
    bodies = chapters_of(SHARED / "corpus" / "xiyouji.txt") + chapters_of(SHARED / "corpus" / "sanguo.txt")
    parts, n, volume, dup = ["书问压力测试：合集（公有领域文本再编排）\n\n"], 0, 0, 0
    total = len(parts[0])
    while total < chars:
        volume += 1
        for body in bodies:
            n += 1
            note = f"（第{volume}卷·{'再版' * (volume % 4)}整理稿）\n" if volume > 1 else ""
            chapter = f"第{n}章 卷{volume}之{n}\n{note}{body}\n\n"
            copies = 2 if n % 20 == 0 else 1  # every 20th chapter posted twice word for word
            parts += [chapter] * copies
            total += len(chapter) * copies
            dup += copies - 1
            if total >= chars:
                break
    text = "".join(parts)
    out.write_text(text, encoding="utf-8")
    return {"path": str(out), "chars": len(text), "bytes": out.stat().st_size, "chapters": n,
            "duplicated_chapters": dup, "volumes": volume}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 3) if xs else None


def run(novel: Path, name: str, store: Path, other: str, out: Path | None) -> dict:
    import httpx
    import openai

    from api.process import rag_serve

    result: dict = {"novel_bytes": novel.stat().st_size, "novel_chars": len(novel.read_text(encoding="utf-8"))}
    log = ROOT / "test-artifacts" / "bench-webnovel-server.log"
    with rag_serve(free_port(), {"SHUWEN_STORE_DIR": str(store)}, log) as served:
        url, server = served.url, served.proc
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=3600)
        client.chat.completions.create(model=other, messages=[{"role": "user", "content": "裕丰当的东家是谁？"}])
        base_rss = rss_kb(server.pid)
        t0 = time.perf_counter()
        with open(novel, "rb") as f:
            r = httpx.post(url + "/v1/novels", files={"file": (novel.name, f)}, data={"name": name}, timeout=600)
        r.raise_for_status()
        job_id = r.json()["id"]
        result["upload_s"] = round(time.perf_counter() - t0, 2)

        stop = threading.Event()
        answers: list[dict] = []

        def reader() -> None:  # another novel's reader keeps asking while the build runs
            qs = ["裕丰当的东家是谁？", "沈墨白那把剑叫什么名字？", "青石镇离江州府有多远？"]
            i = 0
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    resp = client.chat.completions.create(model=other,
                                                          messages=[{"role": "user", "content": qs[i % 3]}])
                    answers.append({"s": time.perf_counter() - t, "ok": bool(resp.choices[0].message.content)})
                except Exception as e:  # noqa: BLE001 — counted as an error of the run
                    answers.append({"s": time.perf_counter() - t, "ok": False, "error": str(e)[:200]})
                i += 1

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        peak, job = base_rss, {}
        while True:
            peak = max(peak, rss_kb(server.pid))
            job = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=30).json()
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(1.0)
        build_s = time.perf_counter() - t0
        stop.set()
        th.join(600)
        result.update(job_status=job["status"], job_error=job.get("error"), build_s=round(build_s, 1),
                      chunks=(job.get("result") or {}).get("chunks"), embedded=(job.get("result") or {}).get("embedded"),
                      chunks_per_s=round(((job.get("result") or {}).get("embedded") or 0) / build_s, 2),
                      server_rss_before_mb=round(base_rss / 1024), server_rss_peak_mb=round(peak / 1024),
                      build_extra_rss_mb=round((peak - base_rss) / 1024), store_mb=round(du(store) / 1e6, 1),
                      answers_during_build=len(answers), answer_errors=sum(not a["ok"] for a in answers),
                      answer_p50_s=pct([a["s"] for a in answers], 50), answer_p95_s=pct([a["s"] for a in answers], 95))
    result.update(open_and_search(store, name))
    from rag.machine import FLAGS, cpu_flags, provenance

    result["cpu_flags"] = sorted(cpu_flags() & set(FLAGS))
    result["command"] = "python bench/webnovel.py " + " ".join(sys.argv[1:])
    result.update(provenance())
    if out:
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return result


def open_and_search(store: Path, name: str) -> dict:
    """A fresh process opens the big store: first question (BM25 load), then retrieval latency over 50 questions."""
    code = f"""
import json, time, sys
t = time.perf_counter()
from rag.settings import load_settings
from rag.retrieve import Retriever
qs = [json.loads(l)["question"] for l in open({str(SHARED / 'eval' / 'xiyouji-public.jsonl')!r}, encoding="utf-8")]
r = Retriever(load_settings(env={{}}, store_dir={str(store)!r}), {name!r})
r.search(qs[0], 5)
first = time.perf_counter() - t
lat = []
for q in qs:
    s = time.perf_counter(); r.search(q, 5); lat.append(time.perf_counter() - s)
lat.sort()
print(json.dumps({{"first_question_s": round(first, 2), "retrieval_p50_ms": round(lat[len(lat)//2]*1000, 1),
                  "retrieval_p95_ms": round(lat[int(len(lat)*0.95)]*1000, 1)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=3600)
    if out.returncode != 0:
        return {"open_error": out.stderr[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def page_upload(novel: Path, store: Path) -> dict:
    """Upload the file through the page's 书库 in Debian chromium; time until its preview (chapters, chunks) shows."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SHUWEN_STORE_DIR": str(store)}
    log = open(ROOT / "test-artifacts" / "bench-webnovel-page.log", "wb")
    app = subprocess.Popen([sys.executable, "start.py", "--no-index", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        import httpx

        for _ in range(240):
            try:
                httpx.get(url + "/_stcore/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
            page.goto(url, timeout=120_000)
            page.get_by_text("书库", exact=True).first.click()
            t0 = time.perf_counter()
            page.locator("input[type=file]").set_input_files(str(novel), timeout=600_000)
            page.get_by_test_id("stMetric").first.wait_for(timeout=1_200_000)
            preview_s = time.perf_counter() - t0
            metrics = page.get_by_test_id("stMetric").all_inner_texts()
            page.screenshot(path=str(ROOT / "test-artifacts" / "bench-webnovel-page.png"), full_page=True)
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)
    return {"page_upload_to_preview_s": round(preview_s, 1), "page_preview": [m.replace("\n", " ") for m in metrics]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write the test novel")
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--chars", type=int, default=5_000_000)
    r = sub.add_parser("run", help="upload it through rag serve and measure")
    r.add_argument("--novel", type=Path, required=True)
    r.add_argument("--name", default="网文合集")
    r.add_argument("--store", type=Path, default=ROOT / "chroma",
                   help="store folder (must hold the other novel, default the sample 青石镇奇案)")
    r.add_argument("--other", default="青石镇奇案", help="novel other readers ask during the build")
    r.add_argument("--out", type=Path)
    g = sub.add_parser("page", help="upload it through the page (书库) in chromium and time the preview")
    g.add_argument("--novel", type=Path, required=True)
    g.add_argument("--store", type=Path, default=ROOT / "chroma")
    args = p.parse_args()
    if args.cmd == "make":
        print(json.dumps(make(args.out, args.chars), ensure_ascii=False))
    elif args.cmd == "page":
        print(json.dumps(page_upload(args.novel, args.store), ensure_ascii=False))
    else:
        run(args.novel, args.name, args.store, args.other, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
