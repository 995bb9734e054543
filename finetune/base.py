"""The CPU base model: the bundled GGUF converted once into a normal bf16 Hugging Face folder."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from rag.errors import ShuWenError, run_main
from rag.settings import load_settings

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.base", description=hf_base.__doc__)
    p.add_argument("--gguf", default=BUNDLED, help="GGUF chat model to convert (default: the bundled Qwen2.5 1.5B)")
    p.add_argument("--tokenizer-only", action="store_true", help="convert the tokenizer only")
    args = p.parse_args(argv)

    def body() -> int:
        cache = load_settings().cache_dir
        t = time.perf_counter()
        out = gguf_tokenizer(cache, args.gguf) if args.tokenizer_only else hf_base(cache, args.gguf)
        print(out)
        print(f"[base] ready in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
