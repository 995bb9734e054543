"""Merge a LoRA adapter into its base (`merge_and_unload`) and save a plain HF folder any server can load.

python -m finetune.merge --adapter runs/lora --out runs/merged
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rag.errors import BadInputError, ShuWenError, run_main


def adapter_base(adapter: Path) -> str:
    """The base model an adapter was trained on (from its adapter_config.json)."""
    cfg = Path(adapter) / "adapter_config.json"
    if not cfg.is_file():
        raise BadInputError(f"{adapter} is not a peft adapter folder (no adapter_config.json)")
    return json.loads(cfg.read_text(encoding="utf-8"))["base_model_name_or_path"]


def merge(adapter: Path, out: Path, base: str | None = None, dtype: str = "bf16") -> Path:
    """Fold a LoRA adapter into its base weights and save model + tokenizer into `out`."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.train import resolve_base

    adapter, out = Path(adapter), Path(out)
    base = resolve_base(base) if base else adapter_base(adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if cfg.get("peft_type") != "LORA":
        raise ShuWenError(f"only LoRA adapters can be merged ({adapter} is {cfg.get('peft_type')}); "
                          "serve it with the transformers backend and the `adapter` setting instead")
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.save_pretrained(out)
    tok_src = adapter if (adapter / "tokenizer_config.json").exists() else base
    AutoTokenizer.from_pretrained(str(tok_src)).save_pretrained(out)
    (out / "shuwen-merge.json").write_text(json.dumps({"base": base, "adapter": str(adapter.resolve()), "dtype": dtype},
                                                      ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finetune.merge", description=merge.__doc__)
    p.add_argument("--adapter", type=Path, required=True, help="peft LoRA adapter folder (train's --output-dir)")
    p.add_argument("--out", type=Path, required=True, help="folder for the merged model")
    p.add_argument("--base", help="base model (default: the one recorded in the adapter; 'bundled' works)")
    p.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16", help="saved weights (default bf16)")
    args = p.parse_args(argv)

    def body() -> int:
        print(f"[merge] adapter={args.adapter}, out={args.out}, base={args.base}, dtype={args.dtype}", file=sys.stderr)
        t = time.perf_counter()
        print(merge(args.adapter, args.out, args.base, args.dtype))
        print(f"[merge] done in {time.perf_counter() - t:.0f} s; serve it with SHUWEN_CHAT_BACKEND=transformers "
              f"SHUWEN_CHAT_MODEL={args.out}", file=sys.stderr)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
