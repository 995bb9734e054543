"""The bundled Qwen2.5 1.5B converted to a bf16 HF folder and served by the transformers backend (real model)."""

import re

import pytest

from rag.answer import Asker
from rag.generate.bundled import BUNDLED_CHAT
from tests.conftest import SAMPLE, sample_store

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def hf_settings(tmp_path_factory, sample_master):
    from rag.settings import load_settings

    return load_settings(env={}, store_dir=sample_store(sample_master, tmp_path_factory.mktemp("s") / "chroma"),
                         chat_backend="transformers", chat_model=BUNDLED_CHAT, max_tokens=16, temperature=0.0,
                         context_chars=300)


def test_conversion_makes_a_plain_hf_folder(hf_settings):
    from rag.generate.hf_convert import hf_base

    out = hf_base(hf_settings.cache_dir)
    assert (out / "config.json").exists() and list(out.glob("*.safetensors"))
    assert hf_base(hf_settings.cache_dir) == out  # converted once, then reused


def test_transformers_backend_answers_with_the_converted_bundled_model(hf_settings):
    asker = Asker(hf_settings.replace(release="stream"), "青石镇奇案")
    events = list(asker.events("裕丰当的东家叫什么名字？"))
    pieces = [e.text for e in events if e.kind == "token"]
    answer = events[-1].record.answer
    assert len(pieces) > 1  # streamed as the model writes it
    assert re.search(r"[\u4e00-\u9fff]", answer)  # a Chinese reply, not template debris
    assert "<|im_end|>" not in answer and "【背景】" not in answer


def test_qa_reads_the_same_chunks_from_the_store_as_from_the_file(hf_settings):
    from finetune.common import load_chunks

    name, from_store = load_chunks(hf_settings, "青石镇奇案", None)
    _, from_file = load_chunks(hf_settings, "青石镇奇案", SAMPLE)
    assert name == "青石镇奇案"
    assert [(c.chunk_id, c.chapter, c.start, c.text) for c in from_store] == \
           [(c.chunk_id, c.chapter, c.start, c.text) for c in from_file]
