"""The machine a report was measured on: CPU model and the instruction sets that change int8 speed and results."""

from __future__ import annotations

import platform
from pathlib import Path

FLAGS = ("avx2", "avx512_vnni", "amx_int8")


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def cpu_flags() -> set[str]:
    """The CPU feature flags the kernel reports (empty off Linux/x86)."""
    for line in _cpuinfo():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu() -> str:
    """'<model name> (<flags>)', e.g. 'Intel(R) Xeon(R) … (amx_int8 avx2 avx512_vnni)'."""
    model = next((ln.split(":", 1)[1].strip() for ln in _cpuinfo() if ln.startswith("model name")),
                 platform.processor() or "unknown")
    return f"{model} ({' '.join(sorted(cpu_flags() & set(FLAGS)))})"


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
