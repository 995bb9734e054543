"""End to end in a real browser: start.py serves the page, Debian chromium asks, the real model answers,
🔊 gives a playable MP3."""

import shutil

import pytest

from tests.browser import ask_and_listen, ask_together, running_app
from tests.conftest import ROOT, free_port, sample_store


@pytest.fixture(autouse=True)
def chromium():
    if not shutil.which("chromium"):
        pytest.fail("Debian chromium is missing: `make test` installs it (apt-get install chromium fonts-noto-cjk)")


@pytest.fixture(scope="module")
def store(tmp_path_factory, sample_master):
    return sample_store(sample_master, tmp_path_factory.mktemp("browser") / "chroma")


ARTIFACTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def app(store):
    """One start.py for the module: the model loads once, as it does for a reader."""
    with running_app(free_port(), {"SHUWEN_STORE_DIR": str(store)}, ARTIFACTS / "app.log") as url:
        yield url


def test_ask_answer_sources_and_audio_in_chromium(app):
    artifacts = ARTIFACTS
    res = ask_and_listen(app, "裕丰当的东家是谁？", artifacts / "answer.png")
    assert "钱有道" in res.answer and res.answer.endswith("〕")  # cited from the evidence
    assert res.sources == 5
    assert res.audio_type == "audio/mpeg"
    assert len(res.audio_bytes) > 2000 and (res.audio_bytes[:3] == b"ID3" or res.audio_bytes[0] == 0xFF)
    assert res.audio_duration > 0.5
    assert (artifacts / "answer.png").stat().st_size > 10_000


def test_two_readers_asking_at_once_both_get_answers(app):
    first, second = ask_together(app, ["裕丰当的东家是谁？", "最后从山洞里清点出多少官银？"])
    # two questions whose passages state the one answer outright (P(有) ≈ 0.90, far above the refusal
    # threshold; docs/benchmarks.md); each answer names its own fact and not the other's
    assert "钱有道" in first and "七万六千" not in first and "七十六箱" not in first
    assert ("七万六千两" in second or "七十六箱" in second) and "钱有道" not in second
    log = (ARTIFACTS / "app.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log
