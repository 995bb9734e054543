"""`python -m finetune.base`: convert the bundled GGUF into the bf16 HF folder the tuning kit trains on."""

from __future__ import annotations

import argparse
import sys
import time

from rag.errors import run_main
from rag.generate.hf_convert import BUNDLED, gguf_tokenizer, hf_base
from rag.settings import load_settings

__all__ = ["gguf_tokenizer", "hf_base", "main"]


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
