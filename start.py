"""Start 书问: make sure the default novel is indexed, then serve the Streamlit page.

    python start.py [--host 127.0.0.1] [--port 7860] [--no-index]
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from rag.errors import ShuWenError  # noqa: E402
from rag.settings import add_settings_args, settings_from_args  # noqa: E402

ROOT = Path(__file__).resolve().parent


def ensure_default_store(settings) -> None:
    """Index corpus/<default_novel>.txt when its store is missing (progress on stderr)."""
    from rag.index.build import build_index
    from rag.index.store import Library

    lib = Library(settings)
    if lib.manifest(settings.default_novel) is None:
        path = settings.corpus_dir / f"{settings.default_novel}.txt"
        print(f"indexing the default novel {path} …", file=sys.stderr)
        build_index(settings, path, settings.default_novel, library=lib)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Start the 书问 web app (Streamlit).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--no-index", action="store_true", help="do not index the default corpus first")
    add_settings_args(p)
    args = p.parse_args(argv)
    try:
        settings = settings_from_args(args)
        if not args.no_index:
            ensure_default_store(settings)
    except ShuWenError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(f"书问 is at http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", args.host,
           "--server.port", str(args.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "viewer",
           # no file watching: a served app does not hot-reload, and watching a venv overflows inotify
           "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           "--server.maxUploadSize", str(max(1, math.ceil(settings.max_file_mb)))]
    # its own process group, so stopping reaches whatever the server started too (a worker left
    # holding the terminal's pipes would keep the caller waiting after the server itself exited)
    proc = subprocess.Popen(cmd, start_new_session=True)

    def on_term(signum, frame):  # a service manager's SIGTERM or a closed terminal stops the server too, like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        code = wait_interruptibly(proc)
    except KeyboardInterrupt:
        stop_group(proc)
        print("stopped", file=sys.stderr)
        return 0
    stop_group(proc, grace=0)  # the server exited by itself: nothing it started outlives it
    return code


def wait_interruptibly(proc: subprocess.Popen) -> int:
    """proc.wait() that Ctrl-C always reaches. A signal the kernel hands to another thread (the embedding model's or
    Chroma's) does not interrupt a blocking waitpid in the main thread, so Python would never raise
    KeyboardInterrupt: wait in short steps, and Python runs its signal handlers between them."""
    while True:
        try:
            return proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the child's process group, SIGKILL it after `grace` seconds; a second Ctrl-C meanwhile is ignored,
    so stopping always finishes."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; end any member still holding on
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


if __name__ == "__main__":
    sys.exit(main())
