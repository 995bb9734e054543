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
