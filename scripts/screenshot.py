"""Screenshot the page answering a question, as in docs/screenshot-*.png.

    .venv/bin/python -m scripts.screenshot --store /tmp/xyj-store --name 西游记 \
        --question "孙悟空的师父菩提祖师住在什么地方？" --out docs/screenshot-xiyouji.png

Starts `start.py --no-index` on a free loopback port, asks in Debian's chromium, presses 🔊, saves the PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from tests.browser import ask_and_listen, running_app  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Screenshot 书问 answering a question in headless chromium.")
    p.add_argument("--store", type=Path, required=True, help="store folder holding the novel")
    p.add_argument("--name", required=True, help="novel (store) name to pick")
    p.add_argument("--question", required=True, help="the question to ask")
    p.add_argument("--out", type=Path, default=Path("docs/screenshot.png"), help="PNG to write")
    p.add_argument("--width", type=int, default=1280, help="viewport width")
    p.add_argument("--height", type=int, default=1500, help="viewport height")
    args = p.parse_args(argv)
    env = {"SHUWEN_STORE_DIR": str(args.store.resolve()), "SHUWEN_DEFAULT_NOVEL": args.name}
    with running_app(free_port(), env, Path("test-artifacts") / "screenshot-app.log") as url:
        res = ask_and_listen(url, args.question, args.out, viewport=(args.width, args.height))
    print(f"{args.out}: answer {res.answer!r}, {res.sources} sources, "
          f"audio {len(res.audio_bytes)} bytes ({res.audio_duration:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
