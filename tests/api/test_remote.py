"""The page and library answering through a running `rag serve` (rag/remote.py), without a model of their own."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from rag.answer import Answer
from rag.errors import ShuWenError
from rag.remote import RemoteAsker
from tests.api.conftest import OWNER, FakeBackend, make_app, serving
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow  # a served API in this process

QUESTION = "裕丰当的东家是谁？"


@pytest.fixture(scope="module")
def url(api_settings):
    app, _ = make_app(api_settings.replace(api_keys="page-key"), FakeBackend(OWNER))
    with serving(app) as base:
        yield base + "/v1"


def test_remote_asker_streams_and_fills_the_answer(url, api_settings):
    s = api_settings.replace(remote_api=url, remote_api_key="page-key")
    res, queued = Answer(QUESTION, QUESTION), []
    pieces = list(RemoteAsker(s, "青石镇奇案", queued.append).stream(QUESTION, [("前情？", "前情。")], res))
    assert "".join(pieces) == res.answer and "钱有道" in res.answer and res.answer.endswith("〕")
    assert 1 <= len(res.sources) <= 8 and res.cited_chunk in {p.chunk_id for p in res.sources}
    assert res.evidence and res.citations and "total_s" in res.timings and queued == [0]


def test_remote_errors_are_one_clear_message(url, api_settings):
    s = api_settings.replace(remote_api=url, remote_api_key="page-key")
    with pytest.raises(ShuWenError, match="404.*no novel"):
        list(RemoteAsker(s, "没有这本书").stream(QUESTION))
    with pytest.raises(ShuWenError, match="401"):
        list(RemoteAsker(s.replace(remote_api_key="wrong"), "青石镇奇案").stream(QUESTION))
    down = s.replace(remote_api=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ShuWenError, match="cannot reach"):
        list(RemoteAsker(down, "青石镇奇案").stream(QUESTION))


def test_page_answers_through_the_api_without_loading_a_model(url, api_store, monkeypatch, tmp_path):
    monkeypatch.setenv("SHUWEN_STORE_DIR", str(api_store))
    monkeypatch.setenv("SHUWEN_REMOTE_API", url)
    monkeypatch.setenv("SHUWEN_REMOTE_API_KEY", "page-key")
    monkeypatch.setenv("SHUWEN_TTS_CACHE", str(tmp_path / "tts"))
    monkeypatch.delenv("SHUWEN_CONFIG", raising=False)
    from ui import resources

    def no_model(key):
        raise AssertionError("the page loaded a chat model although remote_api is set")

    monkeypatch.setattr(resources, "backend", no_model)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception and not at.error
    answer = at.chat_message[1].markdown[0].value
    assert "钱有道" in answer and answer.endswith("〕")
    assert re.match(r"出处（[1-5] 段，引用第 [1-5] 段）", at.expander[0].label)  # the pool's passages its windows came from
