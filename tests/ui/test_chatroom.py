"""The 聊天室 page through Streamlit's AppTest on the real sample store; the chat model is a fake."""

import pytest

from tests.ui.conftest import open_page


@pytest.mark.slow
def test_characters_take_turns_the_reader_interjects_and_downloads(cast, fake):
    at = open_page("聊天室")
    assert at.sidebar.multiselect(key="room-who-青石镇奇案").value == ["刘三", "沈墨白", "钱有道"]
    at.sidebar.multiselect(key="room-who-青石镇奇案").set_value(["沈墨白", "钱有道"]).run()
    at.sidebar.text_input(key="room-topic-青石镇奇案").set_value("当铺的案子").run()
    at.sidebar.selectbox(key="room-order").set_value("list").run()
    at.sidebar.number_input(key="room-turns").set_value(3).run()
    fake.reply = "此事蹊跷。"
    next(b for b in at.button if b.label.startswith("▶️")).click().run()
    assert not at.exception
    said = [m.markdown[0].value for m in at.chat_message]
    assert said == ["**沈墨白**：此事蹊跷。", "**钱有道**：此事蹊跷。", "**沈墨白**：此事蹊跷。"]
    at.chat_input[0].set_value("钱掌柜，你怎么说？").run()
    assert not at.exception
    assert at.chat_message[3].name == "user" and at.chat_message[4].markdown[0].value.startswith("**钱有道**")
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["下载记录（Markdown）", "下载记录（JSONL）"]
    room = at.session_state["rooms"]["青石镇奇案"]
    assert [t.speaker for t in room.turns] == ["沈墨白", "钱有道", "沈墨白", "你", "钱有道"]
    assert "> **你**：钱掌柜，你怎么说？" in room.to_markdown()
    next(b for b in at.button if b.label == "🆕 新话题").click().run()
    assert not at.chat_message


def test_a_room_needs_two_characters_and_a_topic(cast, fake):
    at = open_page("聊天室")
    next(b for b in at.button if b.label.startswith("▶️")).click().run()
    assert not at.exception and "topic" in at.error[0].value  # no topic yet: one clear message
