"""The roleplay pages share test_app.py's page fixtures: the sample store, its speech cache, the fake model."""

import pytest

from roleplay import store
from roleplay.card import new_card
from tests.roleplay.conftest import detective
from tests.test_app import app_store, env, fake  # noqa: F401  (fixtures)

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
