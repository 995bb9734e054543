"""The reading LoRA: its one-command rebuild, the shipped adapter, and the real model answering with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune.reader import RECIPE, flags, main
from tests.conftest import ROOT, run_cli, sample_store

ADAPTER = ROOT / json.loads(RECIPE.read_text(encoding="utf-8"))["out"]


def test_flags_turn_recipe_knobs_into_the_kits_arguments():
    assert flags({"lora_r": 8, "cpu_fallback": True, "fresh": False, "learning_rate": 0.0003}) == \
        ["--lora-r", "8", "--cpu-fallback", "--learning-rate", "0.0003"]


def test_dry_run_names_every_step_with_the_recipes_knobs(tmp_path, capsys):
    assert main(["--dry-run", "--work", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    steps = [line.split(":")[0] for line in err.splitlines() if line.startswith("[reader]")]
    assert steps == ["[reader] cloze", "[reader] export", "[reader] train", "[reader] gguf"]
    assert "--name 西游记" in err and "--lora-r 8" in err and "--base bundled" in err
    assert not (tmp_path / "cloze.jsonl").exists()  # a dry run makes nothing


def test_a_bad_recipe_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "r.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["--recipe", str(bad), "--work", str(tmp_path)]) != 0
    assert "cannot read the recipe" in capsys.readouterr().err


def test_shipped_adapter_is_small_and_trained_on_one_book_only():
    recipe = json.loads(RECIPE.read_text(encoding="utf-8"))
    assert ADAPTER.is_file() and ADAPTER.stat().st_size <= 20 * 2**20
    assert recipe["book"] == "西游记"  # 三国演义 and the sample novella stay unseen: they measure reading, not memory


@pytest.fixture(scope="module")
def store(sample_master, tmp_path_factory) -> Path:
    return sample_store(sample_master, tmp_path_factory.mktemp("reader") / "chroma")


@pytest.mark.model
def test_adapter_changes_the_real_models_reading(store):
    """The GGUF LoRA is applied over the bundled model: the same prompt gets other next-token probabilities."""
    from rag.generate.backends import get_backend
    from rag.settings import load_settings

    ask = [{"role": "user", "content": "原文片段：\n[1]〔第一回〕掌柜姓钱，名有道。\n\n问题：掌柜姓什么？\n回答："}]
    probs = [get_backend(load_settings(env={}, store_dir=store, lora_gguf=lora)).choice_probs(ask, ["钱", "书"])
             for lora in ("", str(ADAPTER))]
    assert abs(probs[0]["钱"] - probs[1]["钱"]) > 1e-4


@pytest.mark.model
def test_rag_ask_answers_with_the_reading_adapter(store):
    # the preset a reader turns it on with: the adapter, temperature 0, the adapter's own refusals (no support check)
    r = run_cli("-m", "rag", "ask", "裕丰当的东家叫什么名字？", "--name", "青石镇奇案", "--store", str(store),
                "--config", "eval/presets/reader-lora.toml")
    assert r.returncode == 0, r.stderr
    answer = r.stdout.split("出处")[0]
    assert "钱有道" in answer and "〔" in answer  # the name copied out of the evidence, with its chapter
    assert "【" not in answer and "<|im_end|>" not in answer
