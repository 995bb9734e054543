"""The reading LoRA: its one-command rebuild, its preset, and a GGUF LoRA applied over the real model."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from finetune.reader import RECIPE, flags, main
from rag.errors import ShuWenError
from tests.conftest import ROOT


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


def test_recipe_trains_on_one_book_and_the_preset_reads_what_it_writes():
    recipe = json.loads(RECIPE.read_text(encoding="utf-8"))
    assert recipe["book"] == "西游记"  # 三国演义 and the sample novella stay unseen: they measure reading, not memory
    preset = tomllib.loads((ROOT / "eval/presets/reader-lora.toml").read_text(encoding="utf-8"))
    assert preset["lora_gguf"] == recipe["out"]
    assert recipe["out"].startswith("runs/")  # a built model, never committed (runs/ is ignored)


def test_a_missing_adapter_is_one_clear_error(tmp_path):
    from rag.generate.backends import get_backend
    from rag.settings import load_settings

    with pytest.raises(ShuWenError, match="LoRA adapter not found.*make reader"):
        get_backend(load_settings(env={}, store_dir=tmp_path, lora_gguf=str(tmp_path / "none.gguf")))


def tiny_lora(path: Path, scale: float = 0.3, seed: int = 0) -> Path:
    """A rank-1 GGUF LoRA on the bundled model's last attention output, written with gguf-py as llama.cpp's
    convert_lora_to_gguf.py writes one (a: rank × in, b: out × rank)."""
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 1.0)
    w.add_tensor("blk.27.attn_output.weight.lora_a", (rng.standard_normal((1, 1536)) * scale).astype(np.float32))
    w.add_tensor("blk.27.attn_output.weight.lora_b", (rng.standard_normal((1536, 1)) * scale).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.model
def test_a_gguf_lora_changes_the_real_models_reading(tmp_path):
    """A GGUF LoRA (here a tiny one written by the test) is applied over the bundled model: the same prompt gets
    other next-token probabilities. The reading LoRA itself is built by `make reader`, not shipped."""
    from rag.generate.backends import get_backend
    from rag.settings import load_settings

    ask = [{"role": "user", "content": "原文片段：\n[1]〔第一回〕掌柜姓钱，名有道。\n\n问题：掌柜姓什么？\n回答："}]
    lora = tiny_lora(tmp_path / "tiny-lora.gguf")
    probs = [get_backend(load_settings(env={}, store_dir=tmp_path, lora_gguf=p)).choice_probs(ask, ["钱", "书"])
             for p in ("", str(lora))]
    assert abs(probs[0]["钱"] - probs[1]["钱"]) > 1e-2
