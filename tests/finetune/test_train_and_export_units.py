"""Training arguments, method choice, prompt masking; export of persona and dialogue records."""

import pytest

from finetune import export as ex
from finetune.train import TrainArgs, build_parser, choose_method, load_conversations, tokenize
from rag.errors import BadInputError, ShuWenError


def test_defaults_are_the_reference_qlora_recipe():
    a = TrainArgs(**vars(build_parser().parse_args(["--data", "x.jsonl"])))
    assert (a.method, a.bnb_quant_type, a.bnb_double_quant) == ("qlora", "nf4", True)
    assert (a.lora_r, a.lora_alpha, a.lora_dropout, a.learning_rate) == (64, 16, 0.1, 2e-4)
    assert (a.max_length, a.batch_size, a.grad_accum, a.epochs) == (2048, 1, 16, 4.0)
    assert (a.lr_scheduler, a.warmup_ratio) == ("cosine", 0.03)
    b = build_parser().parse_args(["--data", "x", "--lora-r", "8", "--cpu-fallback", "--method", "ptuning"])
    assert (b.lora_r, b.cpu_fallback, b.method) == (8, True, "ptuning")


def test_qlora_without_cuda_is_refused_unless_falling_back():
    with pytest.raises(ShuWenError, match="CUDA.*--cpu-fallback"):
        choose_method(TrainArgs(data="x", method="qlora"), cuda=False)
    assert choose_method(TrainArgs(data="x", method="qlora", cpu_fallback=True), cuda=False) == "lora"
    assert choose_method(TrainArgs(data="x", method="qlora"), cuda=True) == "qlora"
    with pytest.raises(BadInputError):
        choose_method(TrainArgs(data="x", method="full"), cuda=False)


def test_loss_is_masked_on_everything_but_the_replies(tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    msgs = [{"role": "system", "content": "你是孙悟空。"}, {"role": "user", "content": "你是谁？"},
            {"role": "assistant", "content": "俺老孙是齐天大圣！"}, {"role": "user", "content": "师父呢？"},
            {"role": "assistant", "content": "唐僧。"}]
    enc = tokenize(tok, msgs, 512)
    trained = tok.decode([t for t, lab in zip(enc["input_ids"], enc["labels"]) if lab != -100])
    assert "俺老孙是齐天大圣！" in trained and "唐僧。" in trained
    assert "你是谁" not in trained and "师父呢" not in trained and "你是孙悟空" not in trained
    assert "<|im_end|>" in trained  # the model learns to stop
    short = tokenize(tok, msgs[:3], 8)  # the reply is cut off entirely
    assert short is None


def test_persona_and_dialogue_records_export_as_single_and_multi_turn(tmp_path):
    recs = [{"character": "孙悟空", "system": "你是孙悟空。", "question": "你是谁？", "answer": "俺老孙！", "sample": 0},
            {"input": "你是那方人氏？", "output": "弟子乃花果山人氏。", "role": "孙悟空", "group": "s1"},
            {"input": "你姓什么？", "output": "我无性。", "role": "孙悟空", "group": "s1"}]
    out = ex.export(recs, tmp_path, val_fraction=0.0)
    assert out["xtuner_single.train.jsonl"] == 3
    multi = load_conversations(tmp_path / "xtuner_multi.train.jsonl")
    assert [len(m) for m in multi] == [3, 5]  # system + 1 turn, system + 2 turns of scene s1
    assert multi[1][0] == {"role": "system", "content": "现在你要扮演孙悟空。"}
    assert load_conversations(tmp_path / "messages.train.jsonl") == multi
    assert "eval.train.jsonl" not in out  # no QA pairs, no eval items
    with pytest.raises(BadInputError):
        ex.to_turn({"foo": 1})
