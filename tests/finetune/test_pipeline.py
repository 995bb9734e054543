"""The whole fine-tuning path on a tiny random Qwen2 with the real tokenizer: generate → export → train → save →
resume → reload → merge → generate → GGUF export. Only the teacher LLM is fake."""

from __future__ import annotations

import json

import pytest

from finetune import export as ex
from finetune.common import read_jsonl, select_chunks
from finetune.merge import merge
from finetune.qa import generate_qa
from finetune.train import TrainArgs, load_conversations, train
from rag.index.build import load_for
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("ft")


@pytest.fixture(scope="module")
def chunks():
    from rag.settings import load_settings

    return select_chunks(load_for(load_settings(env={}), SAMPLE).chunks, limit=6)


@pytest.fixture(scope="module")
def qa_file(workdir, chunks):
    from tests.finetune.conftest import FakeTeacher

    out = workdir / "qa.jsonl"
    stats = generate_qa(chunks, "青石镇奇案", FakeTeacher(), out, retries=2, progress=False, sleep=lambda s: None)
    assert stats["kept"] >= len(chunks)  # two grounded pairs per chunk, minus cross-chunk duplicates
    return out


@pytest.fixture(scope="module")
def export_dir(workdir, qa_file):
    out = workdir / "export"
    ex.export(read_jsonl(qa_file), out, val_fraction=0.25, seed=1)
    return out


@pytest.fixture(scope="module")
def adapter(workdir, tiny_base, export_dir):
    args = TrainArgs(base=str(tiny_base), data=str(export_dir / "xtuner_single.train.jsonl"),
                     val_data=str(export_dir / "messages.val.jsonl"), output_dir=str(workdir / "lora"), method="lora",
                     lora_r=4, lora_alpha=8, lora_dropout=0.0, batch_size=2, grad_accum=1, max_steps=2,
                     max_length=128, learning_rate=1e-2, save_steps=1, eval_steps=1, dtype="fp32", warmup_ratio=0.0)
    summary = train(args)
    return args, summary


def test_generated_pairs_are_grounded_deduplicated_and_traceable(qa_file, chunks):
    pairs = read_jsonl(qa_file)
    by_id = {c.chunk_id: c for c in chunks}
    for p in pairs:
        chunk = by_id[p["chunk_id"]]
        assert p["answer"] in chunk.text and p["evidence"] in chunk.text
        assert p["chapter"] == chunk.chapter and p["chapter_title"] == chunk.chapter_title
    questions = [p["question"].replace("?", "？") for p in pairs]
    assert len(set(questions)) == len(questions)
    rejected = read_jsonl(qa_file.with_name("qa.rejected.jsonl"))
    assert {r["reason"] for r in rejected} == {"not grounded"}
    assert all(r["answer"] == "齐天大圣孙悟空" for r in rejected)


def test_every_export_format_holds_the_same_examples(export_dir, qa_file):
    n = len(read_jsonl(qa_file))
    for part in ("train", "val"):
        convs = {fmt: load_conversations(export_dir / f"{fmt}.{part}.{'json' if fmt == 'alpaca' else 'jsonl'}")
                 for fmt in ex.FORMATS}
        first = convs["messages"]
        assert all(c == first for c in convs.values())
        assert all(m[0]["role"] == "system" and "青石镇奇案" in m[0]["content"] for m in first)
    train_n = len(read_jsonl(export_dir / "messages.train.jsonl"))
    val_items = read_jsonl(export_dir / "eval.val.jsonl")
    assert train_n + len(val_items) == n and val_items
    assert all(it["answers"] and it["evidence"] and it["answerable"] for it in val_items)


def test_export_split_is_deterministic(qa_file, tmp_path):
    recs = read_jsonl(qa_file)
    ex.export(recs, tmp_path / "a", 0.25, seed=1)
    ex.export(list(reversed(recs)), tmp_path / "b", 0.25, seed=1)
    key = lambda p: sorted(json.dumps(r, ensure_ascii=False) for r in read_jsonl(p))  # noqa: E731
    assert key(tmp_path / "a" / "eval.val.jsonl") == key(tmp_path / "b" / "eval.val.jsonl")


@pytest.mark.slow
def test_training_saves_an_adapter_with_validation_loss(adapter):
    args, summary = adapter
    assert summary["steps"] == 2 and summary["method"] == "lora"
    assert "eval_loss" in summary["metrics"] and summary["metrics"]["eval_loss"] > 0
    out = __import__("pathlib").Path(args.output_dir)
    assert (out / "adapter_config.json").exists() and (out / "shuwen-train.json").exists()
    assert (out / "checkpoint-2").is_dir()


@pytest.mark.slow  # trains a tiny model
def test_training_resumes_from_its_last_checkpoint(adapter):
    args, _ = adapter
    from dataclasses import replace

    summary = train(replace(args, max_steps=3))
    assert summary["resumed_from"].endswith("checkpoint-2")
    assert summary["steps"] == 3


def _logits(model, tok):
    import torch

    ids = tok("孙悟空的师父是谁？", return_tensors="pt")
    with torch.no_grad():
        return model(**ids).logits


@pytest.mark.slow
def test_reload_merge_and_serve_through_the_transformers_backend(adapter, tiny_base, workdir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rag.generate.backends import ChatBackend
    from rag.generate.hf import HFChatModel
    from rag.settings import load_settings

    args, _ = adapter
    tok = AutoTokenizer.from_pretrained(str(tiny_base))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_base), dtype=torch.float32)
    base_logits = _logits(base, tok)
    tuned = PeftModel.from_pretrained(base, args.output_dir)
    tuned_logits = _logits(tuned, tok)
    assert not torch.allclose(base_logits, tuned_logits)  # the reloaded adapter changes the model

    merged_dir = merge(args.output_dir, workdir / "merged", dtype="fp32")
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32)
    assert torch.allclose(_logits(merged, tok), tuned_logits, atol=1e-4)

    for model, adapter_dir in ((str(merged_dir), ""), (str(tiny_base), args.output_dir)):
        s = load_settings(env={}, chat_backend="transformers", chat_model=model, adapter=adapter_dir,
                          max_tokens=8, temperature=0.0)
        backend = ChatBackend(s, HFChatModel.load(s))
        pieces = list(backend.stream([{"role": "user", "content": "你好"}]))
        assert pieces and all(isinstance(p, str) for p in pieces)
        assert len(tok("".join(pieces), add_special_tokens=False)["input_ids"]) <= 8


@pytest.mark.slow
def test_merged_model_and_lora_export_to_gguf_for_llamacpp(adapter, tiny_base, workdir):
    from llama_cpp import Llama

    from finetune.to_gguf import lora_to_gguf, merged_to_gguf

    args, _ = adapter
    merged_dir = workdir / "merged"
    if not merged_dir.exists():
        merge(args.output_dir, merged_dir, dtype="fp32")
    merged_gguf = merged_to_gguf(merged_dir, workdir / "merged.gguf", outtype="f32")
    base_gguf = merged_to_gguf(tiny_base, workdir / "base.gguf", outtype="f32")
    lora_gguf = lora_to_gguf(args.output_dir, workdir / "lora.gguf", base=str(tiny_base), outtype="f32")
    prompt = "孙悟空"
    merged = Llama(model_path=str(merged_gguf), n_ctx=64, verbose=False, logits_all=True)
    with_lora = Llama(model_path=str(base_gguf), lora_path=str(lora_gguf), n_ctx=64, verbose=False, logits_all=True)
    plain = Llama(model_path=str(base_gguf), n_ctx=64, verbose=False, logits_all=True)
    outs = [m.create_completion(prompt, max_tokens=6, temperature=0.0)["choices"][0]["text"]
            for m in (merged, with_lora, plain)]
    assert outs[0] == outs[1]  # base + GGUF LoRA behaves like the merged model
    assert isinstance(outs[2], str)


def test_ptuning_trains_a_prompt_encoder_that_serves_but_does_not_merge(tiny_base, export_dir, workdir):
    from rag.errors import ShuWenError
    from rag.generate.backends import ChatBackend
    from rag.generate.hf import HFChatModel
    from rag.settings import load_settings

    out = workdir / "ptuning"
    summary = train(TrainArgs(base=str(tiny_base), data=str(export_dir / "alpaca.train.json"), output_dir=str(out),
                              method="ptuning", num_virtual_tokens=4, encoder_hidden_size=16, batch_size=2,
                              grad_accum=1, max_steps=1, max_length=128, dtype="fp32", warmup_ratio=0.0))
    assert summary["method"] == "ptuning"
    assert json.loads((out / "adapter_config.json").read_text())["peft_type"] == "P_TUNING"
    s = load_settings(env={}, chat_backend="transformers", chat_model=str(tiny_base), adapter=str(out), max_tokens=4,
                      temperature=0.0)
    assert isinstance(ChatBackend(s, HFChatModel.load(s)).complete([{"role": "user", "content": "你好"}]), str)
    with pytest.raises(ShuWenError, match="only LoRA"):
        merge(out, workdir / "ptuning-merged")


def test_transformers_backend_reports_bad_adapters_and_generation_errors(tiny_base, tmp_path):
    from transformers import AutoTokenizer

    from rag.errors import ShuWenError
    from rag.generate.backends import ChatBackend
    from rag.generate.hf import HFChatModel
    from rag.settings import load_settings

    s = load_settings(env={}, chat_backend="transformers", chat_model=str(tiny_base), adapter=str(tmp_path))
    with pytest.raises(ShuWenError, match="not a peft adapter"):
        HFChatModel.load(s)

    class Broken:
        device = "cpu"

        def generate(self, **kw):
            raise RuntimeError("out of memory")

    model = HFChatModel(model=Broken(), tokenizer=AutoTokenizer.from_pretrained(str(tiny_base)))
    with pytest.raises(ShuWenError, match="generation failed: out of memory"):  # not a hang
        ChatBackend(s, model).complete([{"role": "user", "content": "你好"}])


def test_transformers_backend_can_be_kept_from_writing_digits(tiny_base):
    import torch
    from transformers import AutoTokenizer

    from rag.generate.backends import ChatBackend
    from rag.generate.hf import HFChatModel
    from rag.settings import load_settings

    s = load_settings(env={}, chat_backend="transformers", chat_model=str(tiny_base), max_tokens=3, temperature=0.0)
    model = HFChatModel.load(s)
    tok = AutoTokenizer.from_pretrained(str(tiny_base))
    seven, three = tok.convert_tokens_to_ids("7"), tok.encode("三", add_special_tokens=False)[0]
    head = torch.nn.Linear(model.model.config.hidden_size, model.model.config.vocab_size, bias=True)
    with torch.no_grad():  # a model that prefers "7", then "三"
        head.weight.zero_()
        head.bias.zero_()
        head.bias[seven], head.bias[three] = 10.0, 5.0
    model.model.lm_head = head
    backend = ChatBackend(s, model)
    ask = [{"role": "user", "content": "几？"}]
    assert "7" in backend.complete(ask)
    kept = "".join(backend.stream(ask, no_digits=True))
    assert kept.startswith("三") and not any(c.isdigit() for c in kept)
