"""The 角色 page through Streamlit's AppTest on the real sample store; the chat model is a fake."""

import json
import re

import pytest

from roleplay import store
from tests.ui.conftest import HOSTILE, open_page


def test_no_cards_offers_import_and_draft(env, app_store):
    from rag.settings import load_settings

    for p in (load_settings().beside_store / "characters" / "青石镇奇案").glob("*"):
        p.unlink()
    at = open_page("角色")
    assert "还没有角色卡片" in at.info[0].value
    assert [r.value for r in at.radio if r.key == "rp-mode"] == ["新角色"]
    assert any(b.label == "起草" for b in at.button)


@pytest.mark.slow
def test_gallery_chat_sources_and_voice(cast, fake):
    at = open_page("角色")
    labels = [b.label for b in at.button if (b.key or "").startswith("pick-")]
    assert sorted(x.removeprefix("👤 ") for x in labels) == ["刘三", "沈墨白", "钱有道"]
    at.button(key="pick-青石镇奇案-沈墨白").click().run()
    fake.reply = "在下正是沈墨白。"
    at.chat_input[0].set_value("你的剑叫寒汀吗？").run()
    assert not at.exception
    said = [m for m in at.chat_message if m.name == "assistant"]
    assert said[-1].markdown[0].value == "在下正是沈墨白。"
    sources = at.expander[-1]
    assert re.fullmatch(r"出处（[1-5] 段书中段落，4 句原话）", sources.label)
    assert any("寒汀" in m.value for m in sources.markdown)
    at.button(key=next(b.key for b in at.button if (b.key or "").startswith("speak-"))).click().run()
    assert not at.exception and len(at.get("audio")) == 1


def test_card_text_is_shown_as_text(cast, fake):
    at = open_page("角色")
    captions = " ".join(c.value for c in at.caption)
    assert "<script>" not in captions.replace("\\<script\\>", "")  # every markdown sign escaped
    assert "\\<script\\>" in captions and "\\[点我\\]\\(javascript:alert\\(1\\)\\)" in captions


def test_every_task_and_a_view(cast, fake):
    at = open_page("角色")
    at.button(key="pick-青石镇奇案-沈墨白").click().run()
    at.radio(key="rp-mode").set_value("任务").run()
    assert at.selectbox(key="rp-task").options[:2] == ["介绍 · 自我介绍", "故事 · 讲一个故事"]
    at.selectbox(key="rp-task").set_value("信").run()
    at.text_input(key="rp-topic").set_value("雨夜").run()
    fake.reply = "钱兄台鉴：在下……沈墨白敬上。"
    at.button(key="rp-run-生成").click().run()
    assert not at.exception and "沈墨白敬上" in at.chat_message[-1].markdown[0].value
    at.radio(key="rp-mode").set_value("看法").run()
    assert at.selectbox(key="rp-view").options[:2] == ["刘三", "钱有道"]
    at.selectbox(key="rp-view").set_value("钱有道").run()
    fake.reply = "钱掌柜？在下看他心里有鬼。"
    at.button(key="rp-run-说说看法").click().run()
    assert not at.exception and "心里有鬼" in at.chat_message[-1].markdown[0].value


def test_edit_saves_the_card_and_keeps_unknown_fields(cast, fake):
    card = store.load(cast, "青石镇奇案", "刘三")
    card["data"]["extensions"]["other_app"] = {"mood": 3}
    store.save(cast, card)
    at = open_page("角色")
    at.button(key="pick-青石镇奇案-刘三").click().run()
    at.radio(key="rp-mode").set_value("编辑卡片").run()
    next(x for x in at.text_area if x.label == "性格").set_value("胆小，嘴快")
    next(x for x in at.text_input if x.label.startswith("别名")).set_value("刘小三，三儿")
    next(b for b in at.button if b.label == "保存").click().run()
    assert not at.exception and at.success[0].value == "已保存"
    saved = json.loads((cast.beside_store / "characters" / "青石镇奇案" / "刘三.json").read_text(encoding="utf-8"))
    assert saved["data"]["personality"] == "胆小，嘴快"
    assert saved["data"]["extensions"]["shuwen"]["aliases"] == ["刘小三", "三儿"]
    assert saved["data"]["extensions"]["other_app"] == {"mood": 3}
    assert HOSTILE not in json.dumps(saved, ensure_ascii=False)
