"""Train a LoRA / QLoRA / P-tuning adapter with transformers Trainer + peft, loss only on the replies.

python -m finetune.train --base bundled --data data/export/messages.train.jsonl --val-data data/export/messages.val.jsonl \
    --method lora --max-steps 60 --batch-size 4 --grad-accum 1 --max-length 256 --output-dir runs/lora
Defaults are the reference's (InternLM2-chat-7b QLoRA via xtuner); every knob is a flag, echoed at start.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.common import read_jsonl
from rag.errors import BadInputError, ShuWenError, run_main

METHODS = ("lora", "qlora", "ptuning")


@dataclass
class TrainArgs:
    """Every training knob; defaults follow the reference's QLoRA recipe."""

    data: str = field(default="", metadata={"help": "training data: xtuner, alpaca or chat-messages JSON(L)"})
    base: str = field(default="bundled", metadata={"help": "HF id or folder; 'bundled' = the bundled Qwen2.5 1.5B GGUF converted to bf16"})
    val_data: str = field(default="", metadata={"help": "validation data (same formats); none = no validation loss"})
    output_dir: str = field(default="runs/adapter", metadata={"help": "checkpoints and the final adapter"})
    method: str = field(default="qlora", metadata={"help": "lora | qlora (needs CUDA) | ptuning"})
    cpu_fallback: bool = field(default=False, metadata={"help": "without CUDA, train bf16 LoRA when qlora is asked for"})
    lora_r: int = field(default=64, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout"})
    target_modules: str = field(default="all-linear", metadata={"help": "LoRA targets: all-linear or comma-separated names"})
    bnb_quant_type: str = field(default="nf4", metadata={"help": "QLoRA 4-bit type"})
    bnb_double_quant: bool = field(default=True, metadata={"help": "QLoRA double quantisation"})
    num_virtual_tokens: int = field(default=20, metadata={"help": "P-tuning virtual tokens"})
    encoder_hidden_size: int = field(default=128, metadata={"help": "P-tuning prompt-encoder width"})
    learning_rate: float = field(default=2e-4, metadata={"help": "peak learning rate"})
    max_length: int = field(default=2048, metadata={"help": "tokens per example (longer ones are cut)"})
    batch_size: int = field(default=1, metadata={"help": "examples per device step"})
    grad_accum: int = field(default=16, metadata={"help": "gradient accumulation steps"})
    epochs: float = field(default=4.0, metadata={"help": "epochs (ignored when max_steps > 0)"})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps; -1 = by epochs"})
    lr_scheduler: str = field(default="cosine", metadata={"help": "learning-rate schedule"})
    warmup_ratio: float = field(default=0.03, metadata={"help": "share of steps warming up"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    dtype: str = field(default="bf16", metadata={"help": "base weights on CPU: bf16 | fp32"})
    logging_steps: int = field(default=1, metadata={"help": "log loss every N steps"})
    save_steps: int = field(default=50, metadata={"help": "checkpoint every N steps"})
    eval_steps: int = field(default=50, metadata={"help": "validation loss every N steps"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept"})
    resume: str = field(default="auto", metadata={"help": "auto (latest checkpoint in output_dir) | no | a checkpoint path"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    threads: int = field(default=0, metadata={"help": "CPU threads (0 = torch's default)"})


def load_conversations(path: str | Path) -> list[list[dict]]:
    """Chat messages per example from xtuner (`conversation`), alpaca (`instruction`) or chat (`messages`) records."""
    out = []
    for rec in read_jsonl(Path(path)):
        if "messages" in rec:
            out.append(rec["messages"])
        elif "conversation" in rec:
            msgs = []
            for turn in rec["conversation"]:
                if turn.get("system"):
                    msgs.append({"role": "system", "content": turn["system"]})
                msgs += [{"role": "user", "content": turn["input"]}, {"role": "assistant", "content": turn["output"]}]
            out.append(msgs)
        elif "instruction" in rec:
            user = rec["instruction"] + (f"\n{rec['input']}" if rec.get("input") else "")
            sys_ = [{"role": "system", "content": rec["system"]}] if rec.get("system") else []
            out.append([*sys_, {"role": "user", "content": user}, {"role": "assistant", "content": rec["output"]}])
        else:
            raise BadInputError(f"{path}: records need 'messages', 'conversation' or 'instruction'")
    if not out:
        raise BadInputError(f"{path} has no examples")
    return out


def tokenize(tokenizer, messages: list[dict], max_length: int) -> dict | None:
    """input_ids and labels in the base model's chat template; every token outside the assistant replies is -100."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not text.startswith(upto) or not upto.startswith(prefix):
            raise ShuWenError("the chat template is not prefix-stable; cannot mask prompts for this base model")
        spans.append((len(prefix), len(upto)))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=max_length)
    labels = [tok if any(a <= s < b for a, b in spans) else -100
              for tok, (s, _e) in zip(enc["input_ids"], enc["offset_mapping"])]
    if all(x == -100 for x in labels):
        return None  # the reply was cut off entirely
    return {"input_ids": enc["input_ids"], "labels": labels}


class Collator:
    """Right-pad a batch; padding is masked out of attention and loss."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        n = max(len(b["input_ids"]) for b in batch)
        ids = [b["input_ids"] + [self.pad_id] * (n - len(b["input_ids"])) for b in batch]
        labels = [b["labels"] + [-100] * (n - len(b["labels"])) for b in batch]
        mask = [[1] * len(b["input_ids"]) + [0] * (n - len(b["input_ids"])) for b in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


def resolve_base(base: str) -> str:
    """'bundled' → the converted bundled model folder; anything else is an HF id or folder."""
    if base in ("bundled", "") or base.startswith("bundled:"):
        from rag.generate.hf_convert import hf_base
        from rag.settings import load_settings

        return str(hf_base(load_settings().cache_dir))
    return base


def choose_method(args: TrainArgs, cuda: bool) -> str:
    """The method that will run; QLoRA without CUDA is an error unless the CPU fallback was asked for."""
    if args.method not in METHODS:
        raise BadInputError(f"--method must be one of {', '.join(METHODS)}, not {args.method!r}")
    if args.method == "qlora" and not cuda:
        if not args.cpu_fallback:
            raise ShuWenError("QLoRA needs CUDA (bitsandbytes 4-bit) and there is none here; "
                              "pass --cpu-fallback to train bf16 LoRA instead, or --method lora")
        print("[train] no CUDA: QLoRA is not possible on CPU, falling back to bf16 LoRA (--cpu-fallback)",
              file=sys.stderr, flush=True)
        return "lora"
    return args.method


def load_model(args: TrainArgs, method: str, base: str):
    """(model with its adapter, tokenizer)."""
    import torch
    from peft import LoraConfig, PromptEncoderConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base, trust_remote_code=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    kwargs: dict[str, Any] = {"trust_remote_code": True}
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs.update(device_map="auto", quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=args.bnb_quant_type, bnb_4bit_use_double_quant=args.bnb_double_quant,
            bnb_4bit_compute_dtype=torch.bfloat16))
    else:
        kwargs["dtype"] = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except OSError as e:
        raise ShuWenError(f"cannot load base model {base!r}: {str(e).splitlines()[0]}") from None
    model.config.use_cache = False
    if method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    if method == "ptuning":
        cfg = PromptEncoderConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=args.num_virtual_tokens,
                                  encoder_hidden_size=args.encoder_hidden_size)
    else:
        targets = args.target_modules if args.target_modules == "all-linear" else args.target_modules.split(",")
        cfg = LoraConfig(task_type=TaskType.CAUSAL_LM, r=args.lora_r, lora_alpha=args.lora_alpha,
                         lora_dropout=args.lora_dropout, target_modules=targets, bias="none")
    return get_peft_model(model, cfg), tok


def _progress_callback():
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """One log line per logging step with speed and ETA (readable in a nohup log, unlike a tqdm bar)."""

        def on_train_begin(self, a, state, control, **kw):
            self.t0, self.step0 = time.perf_counter(), state.global_step

        def on_log(self, a, state, control, logs=None, **kw):
            done = state.global_step - self.step0
            if not logs or done <= 0:
                return
            per = (time.perf_counter() - self.t0) / done
            eta = per * (state.max_steps - state.global_step)
            shown = " · ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items())
            print(f"[train] step {state.global_step}/{state.max_steps} · {shown} · {per:.1f} s/step · "
                  f"ETA {int(eta // 60)}m{int(eta % 60):02d}s", file=sys.stderr, flush=True)

    return Progress()


def train(args: TrainArgs) -> dict:
    """Train and save an adapter into args.output_dir; returns the run summary (also saved as shuwen-train.json)."""
    import torch
    from transformers import Trainer, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    if not args.data:
        raise BadInputError("--data is required")
    method = choose_method(args, torch.cuda.is_available())
    if args.threads:
        torch.set_num_threads(args.threads)
    set_seed(args.seed)
    base = resolve_base(args.base)
    model, tok = load_model(args, method, base)
    model.print_trainable_parameters()

    def encode(path: str) -> list[dict]:
        rows = [tokenize(tok, m, args.max_length) for m in load_conversations(path)]
        kept = [r for r in rows if r is not None]
        if len(kept) < len(rows):
            print(f"[train] {path}: {len(rows) - len(kept)} examples dropped (reply beyond max_length)", file=sys.stderr)
        return kept

    train_set = encode(args.data)
    val_set = encode(args.val_data) if args.val_data else None
    out = Path(args.output_dir)
    resume: str | bool | None = None
    if args.resume == "auto":
        resume = get_last_checkpoint(str(out)) if out.is_dir() else None
    elif args.resume != "no":
        resume = args.resume
    if resume:
        print(f"[train] resuming from {resume}", file=sys.stderr, flush=True)
    targs = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum, num_train_epochs=args.epochs, max_steps=args.max_steps,
        learning_rate=args.learning_rate, lr_scheduler_type=args.lr_scheduler, warmup_steps=args.warmup_ratio,
        weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, logging_steps=args.logging_steps,
        save_strategy="steps", save_steps=args.save_steps, save_total_limit=args.save_total_limit,
        eval_strategy="steps" if val_set else "no", eval_steps=args.eval_steps if val_set else None,
        report_to=[], seed=args.seed, use_cpu=not torch.cuda.is_available(), remove_unused_columns=False,
        label_names=["labels"], dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=train_set, eval_dataset=val_set,
                      data_collator=Collator(tok.pad_token_id), callbacks=[_progress_callback()])
    t = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = dict(result.metrics)
    if val_set:
        last = [x for x in trainer.state.log_history if "eval_loss" in x and x.get("step") == trainer.state.global_step]
        metrics.update(last[-1] if last else trainer.evaluate())  # no second pass when the last step just evaluated
    trainer.save_model(str(out))
    tok.save_pretrained(str(out))
    summary = {"args": dataclasses.asdict(args), "method": method, "base": base, "train_examples": len(train_set),
               "val_examples": len(val_set or []), "steps": trainer.state.global_step, "resumed_from": resume,
               "seconds": round(time.perf_counter() - t, 1), "metrics": metrics,
               "log": trainer.state.log_history}
    (out / "shuwen-train.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return summary


def build_parser() -> argparse.ArgumentParser:
    """One typed flag per TrainArgs field (--lora-r, --cpu-fallback…)."""
    p = argparse.ArgumentParser(prog="python -m finetune.train", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in dataclasses.fields(TrainArgs):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool" or f.type is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            p.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"],
                           choices=METHODS if f.name == "method" else None)
    return p


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    args = TrainArgs(**vars(ns))

    def body() -> int:
        print("[train] " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(args).items()), file=sys.stderr, flush=True)
        s = train(args)
        print(json.dumps({k: s[k] for k in ("method", "steps", "train_examples", "val_examples", "seconds", "metrics")},
                         ensure_ascii=False, indent=1))
        print(f"[train] adapter saved to {args.output_dir}", file=sys.stderr)
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
