"""The machine a report was measured on: CPU model and the instruction sets that change int8 speed and results."""

from __future__ import annotations

import platform
from pathlib import Path

FLAGS = ("avx2", "avx512_vnni", "amx_int8")


def cpu() -> str:
    """'<model name> (<flags>)', e.g. 'Intel(R) Xeon(R) … (amx_int8 avx2 avx512_vnni)'."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    flags = {f for ln in lines if ln.startswith("flags") for f in ln.split(":", 1)[1].split() if f in FLAGS}
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor())
    return f"{model} ({' '.join(sorted(flags))})"


def revision(root: Path | None = None) -> str:
    """The git revision of the checkout ('abc1234', '+dirty' when files differ from it), or 'unknown'."""
    import subprocess

    root = root or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty else "")


def provenance(settings=None) -> dict:
    """What a report records of where it ran: the git revision, the CPU and, when given, the resolved settings."""
    out = {"revision": revision(), "cpu": cpu()}
    if settings is not None:
        out["settings"] = settings.record()
    return out
