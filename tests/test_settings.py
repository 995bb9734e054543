import json
from pathlib import Path

import pytest

from rag.errors import ShuWenError
from rag.settings import load_settings


def test_precedence_defaults_toml_env_overrides(tmp_path):
    cfg = tmp_path / "shuwen.toml"
    cfg.write_text('[store]\nstore_dir = "/tmp/a"\nk = 7\n[ingest]\nchunk_size = 500\n', encoding="utf-8")
    assert load_settings(env={}).chunk_size == 600
    s = load_settings(cfg, env={})
    assert (s.store_dir, s.k, s.chunk_size) == (Path("/tmp/a"), 7, 500)
    s = load_settings(cfg, env={"SHUWEN_K": "3"})
    assert s.k == 3 and s.chunk_size == 500
    s = load_settings(cfg, env={"SHUWEN_K": "3"}, k=9)
    assert s.k == 9


def test_bad_settings_are_clear(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("nonsense = 1\n", encoding="utf-8")
    with pytest.raises(ShuWenError, match="unknown setting"):
        load_settings(cfg, env={})
    with pytest.raises(ShuWenError, match="chunk_overlap"):
        load_settings(env={}, chunk_overlap=700)
    with pytest.raises(ShuWenError, match="as int"):
        load_settings(env={"SHUWEN_K": "many"})


def test_overlay_puts_one_file_on_top(tmp_path):
    from rag.settings import overlay

    base = load_settings(env={}, k=7)
    preset = tmp_path / "p.toml"
    preset.write_text("kind_bonus = 0\ncite_answers = false\n", encoding="utf-8")
    s = overlay(base, preset)
    assert (s.k, s.kind_bonus, s.cite_answers) == (7, 0.0, False)
    assert (base.kind_bonus, base.cite_answers) == (2.0, True)  # the base is untouched
    preset.write_text("kind_bonuss = 0\n", encoding="utf-8")
    with pytest.raises(ShuWenError, match="unknown setting 'kind_bonuss'"):
        overlay(base, preset)
    with pytest.raises(ShuWenError, match="not found"):
        overlay(base, tmp_path / "missing.toml")
    preset.write_text('retrieval_mode = "bm52"\n', encoding="utf-8")
    with pytest.raises(ShuWenError, match="retrieval_mode"):  # checked like any settings file
        overlay(base, preset)


def test_the_before_issue_11_preset_reads():
    from rag.settings import ROOT, overlay

    s = overlay(load_settings(env={}), ROOT / "eval" / "presets" / "before-issue-11.toml")
    assert (s.cite_answers, s.grounded_only, s.kind_bonus, s.alias_weight, s.alias_vector) == (False, False, 0.0, 0.0,
                                                                                                0.0)


def test_a_report_records_the_settings_with_secrets_masked(tmp_path):
    s = load_settings(env={}, store_dir=tmp_path, openai_api_key="sk-secret", api_keys="")
    rec = s.record()
    assert rec["openai_api_key"] == "***" and rec["api_keys"] == ""  # set secrets masked, empty ones shown empty
    assert rec["store_dir"] == str(tmp_path) and rec["k"] == s.k
    assert "sk-secret" not in json.dumps(rec)
