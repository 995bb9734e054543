"""The roleplay pages: a cast of cards on the page's sample store (app_store, env and fake are in tests/conftest.py)."""

import pytest
from streamlit.testing.v1 import AppTest

from roleplay import store
from roleplay.card import new_card
from tests.conftest import APP
from tests.roleplay.conftest import detective

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">[点我](javascript:alert(1))'


@pytest.fixture
def cast(env, app_store):  # noqa: F811
    """Three cards of the sample novella in the page's store; one carries HTML and a script in its fields."""
    from rag.settings import load_settings

    s = load_settings()
    folder = s.beside_store / "characters" / "青石镇奇案"
    for p in folder.glob("*"):
        p.unlink()
    store.save(s, detective())
    store.save(s, new_card("钱有道", description="裕丰当的东家。", personality=HOSTILE,
                           shuwen={"novel": "青石镇奇案", "aliases": ["钱掌柜"], "self_ref": "小的",
                                   "identity": HOSTILE}))
    store.save(s, new_card("刘三", description="当铺的伙计。", shuwen={"novel": "青石镇奇案", "self_ref": "小的"}))
    return s


def open_page(name: str) -> AppTest:
    """The page, switched to one of its sidebar pages (角色, 聊天室)."""
    at = AppTest.from_file(APP, default_timeout=600).run()
    at.sidebar.radio(key="page").set_value(name).run()
    assert not at.exception
    return at
