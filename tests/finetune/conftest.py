"""A tiny randomly initialised Qwen2 with the bundled model's real tokenizer, and a fake chat model."""

from __future__ import annotations

import hashlib
import json
import re

import pytest


@pytest.fixture(scope="session")
def tokenizer_dir():
    """The bundled GGUF's tokenizer as an HF folder, derived through rag.generate.hf_convert and cached like the app does."""
    from rag.generate.hf_convert import gguf_tokenizer
    from rag.settings import load_settings

    return gguf_tokenizer(load_settings(env={}).cache_dir)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, tokenizer_dir):
    """A 2-layer, 32-wide Qwen2 (random weights, real vocabulary and chat template) saved as an HF folder."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    cfg = Qwen2Config(vocab_size=151936, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=False, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(cfg).to(torch.float32).save_pretrained(out)
    tok.save_pretrained(out)
    return out


class FakeTeacher:
    """Stands in for the chat model at the LLM boundary: answers the QA prompt from the chunk it is shown.

    The first reply to every chunk is malformed (so retries are exercised); the second holds two grounded pairs,
    one answer that is not in the text, and one near-duplicate question.
    """

    def __init__(self):
        self.calls = 0
        self.seen: set[str] = set()

    def __call__(self, messages: list[dict]) -> str:
        self.calls += 1
        user = messages[1]["content"]
        text = re.search(r'"""\n(.*?)\n"""', user, re.S).group(1)
        if text not in self.seen:
            self.seen.add(text)
            return "好的，以下是题目：[{'question': 没有引号"
        words = [w for w in re.findall(r"[\u4e00-\u9fff]{4,}", text)]
        a, b = words[0][:4], words[-1][:4]
        tail = hashlib.md5(text.encode()).hexdigest()[:8]  # makes each chunk's questions its own
        items = [{"question": f"在写到“{tail}”的那段里，第一处四字词是什么？", "answer": a},
                 {"question": f"在写到“{tail}”的那段里，最后的四字词是什么？", "answer": b},
                 {"question": f"在写到“{tail}”的那段里，谁会飞？", "answer": "齐天大圣孙悟空"},
                 {"question": f"在写到“{tail}”的那段里，第一处四字词是什么?", "answer": a}]
        return "```json\n" + json.dumps(items, ensure_ascii=False) + "\n```"


@pytest.fixture
def fake_teacher():
    return FakeTeacher()
