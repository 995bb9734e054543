"""The Streamlit page (retrieval preview) through Streamlit's AppTest, on a real store."""

import pytest

from tests.conftest import ROOT, SAMPLE


@pytest.fixture
def store(tmp_path, monkeypatch):
    from rag.index.build import build_index
    from rag.settings import load_settings

    monkeypatch.setenv("SHUWEN_STORE_DIR", str(tmp_path / "chroma"))
    build_index(load_settings(), SAMPLE, "青石镇奇案", progress=False)
    return tmp_path


def test_question_shows_passages_with_chapters(store):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.sidebar.selectbox[0].value == "青石镇奇案"
    at.chat_input[0].set_value("裕丰当的东家是谁？").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert len(labels) == 5 and all(label.startswith("第") for label in labels)


def test_empty_library_says_how_to_build(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SHUWEN_STORE_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert any("gen_chroma.py" in w.value for w in at.warning)
