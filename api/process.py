"""`python -m rag serve` as a child process: start it, wait until /readyz says ready, stop it.

For benchmarks, tests and scripts that need a real server on loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen


@contextmanager
def rag_serve(port: int, env: dict[str, str], log: Path, *args: str, timeout: float = 300) -> Iterator[Served]:
    """A `rag serve` on 127.0.0.1:port (extra `args`, env on top of ours) until the block ends; RuntimeError
    (naming the log) when it exits or is not ready within `timeout` seconds."""
    import httpx

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(port), *args], cwd=ROOT,
                                env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, stdout=out,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"rag serve exited with {proc.returncode}; see {log}")
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"rag serve was not ready in {timeout:g} s; see {log}")
                time.sleep(0.5)
            yield Served(url, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
