"""The bundled GGUF as Hugging Face folders: its tokenizer, and its weights dequantized to bf16, converted once.

The transformers chat backend serves from here, and the tuning kit trains on the same folder.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rag.errors import ShuWenError

BUNDLED = "bundled"


def _gguf_path(cache_dir: Path, gguf: str | Path | None) -> Path:
    from rag.generate.bundled import bundled_gguf

    if gguf in (None, "", BUNDLED) or str(gguf).startswith("bundled:"):
        return bundled_gguf(cache_dir)
    path = Path(gguf).expanduser()
    if not path.is_file():
        raise ShuWenError(f"GGUF file not found: {path}")
    return path


def _folder(cache_dir: Path, gguf: Path, what: str) -> Path:
    return Path(cache_dir) / "models" / f"{gguf.stem}-{what}"


def _swap_in(tmp: Path, out: Path) -> Path:
    """Publish a finished folder in one rename so an interrupted conversion is never mistaken for a model."""
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def gguf_tokenizer(cache_dir: Path, gguf: str | Path | None = None) -> Path:
    """A tokenizer-only HF folder read from the GGUF's metadata (seconds; no weights)."""
    from transformers import AutoTokenizer

    src = _gguf_path(cache_dir, gguf)
    out = _folder(cache_dir, src, "tokenizer")
    if (out / "tokenizer_config.json").exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    tok.save_pretrained(tmp)
    return _swap_in(tmp, out)


def hf_base(cache_dir: Path, gguf: str | Path | None = None) -> Path:
    """Dequantize a GGUF chat model into a bf16 HF folder under the cache, once (≈1 min, ≈5.5 GiB peak for 1.5B)."""
    src = _gguf_path(cache_dir, gguf)
    out = _folder(cache_dir, src, "hf-bf16")
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"[base] converting {src.name} into a bf16 HF folder (once) …", file=sys.stderr, flush=True)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.bfloat16)
    # the weights are plain dequantized tensors; only the GGUF marker blocks save_pretrained
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name).save_pretrained(tmp)
    return _swap_in(tmp, out)
