"""The 聊天室 page: pick characters, a topic and a turn order; they talk turn by turn, streamed; the reader
interjects, stops, and downloads the transcript."""

from __future__ import annotations

import streamlit as st

from rag.errors import ShuWenError
from rag.settings import Settings
from ui import resources
from ui.characters import AVATAR, open_novel, plain

ORDER_LABELS = {"natural": "自然（被点名的人先说，其次说得少的）", "list": "按顺序轮流", "random": "随机"}


def make_room(s: Settings, novel: str, who: list[str], topic: str, order: str):
    """A new room on the page's shared model and retriever."""
    from roleplay import store
    from roleplay.chatroom import Chatroom
    from ui.characters import character

    return Chatroom(s, [store.load(s, novel, n) for n in who], topic, order, make=lambda c: character(s, c))


def render_turns(room) -> None:
    for t in room.turns:
        if t.by_user:
            st.chat_message("user").write(t.text)
        else:
            with st.chat_message("assistant", avatar=AVATAR):
                st.markdown(f"**{plain(t.speaker)}**：{t.text}")
                if t.chapters:
                    st.caption("书中依据：" + "、".join(f"第{c}回" for c in t.chapters))


def talk(room, turns: int) -> None:
    """Run `turns` turns, each shown in its own message once its checks have passed."""
    room.planned_turns = max(room.planned_turns, sum(not t.by_user for t in room.turns) + turns)  # spreads the beats
    for _ in range(turns):
        who = room.next_speaker()
        with st.chat_message("assistant", avatar=AVATAR):
            st.markdown(f"**{plain(who.name)}**：")
            box = st.empty()
            with resources.model_turn():
                with box.container():
                    st.write_stream(piece for _, piece in room.step(who))
            box.markdown(room.turns[-1].text)


def page() -> None:
    if (opened := open_novel("聊天室")) is None:
        return
    s, novel, names = opened
    if len(names) < 2:
        st.info("聊天室要两个以上的角色：先在「角色」页导入或起草角色卡片。")
        return
    sb = st.sidebar
    who = sb.multiselect("谁在场", names, default=names[:3], key=f"room-who-{novel}")
    topic = sb.text_input("话题", key=f"room-topic-{novel}", placeholder="例如：取经路上最难的一关")
    order = sb.selectbox("轮流方式", list(ORDER_LABELS), format_func=ORDER_LABELS.get, key="room-order")
    turns = sb.number_input("每次说几轮", 1, 20, 4, key="room-turns")
    rooms = st.session_state.setdefault("rooms", {})
    room = rooms.get(novel)
    if room is not None and ([m.name for m in room.members], room.topic, room.order) != (who, topic.strip(), order):
        room = None  # a changed cast, topic or order starts a new conversation
    c1, c2, c3 = st.columns(3)
    go = c1.button("▶️ 开始" if room is None or not room.turns else f"▶️ 再说 {turns} 轮", type="primary")
    c2.button("⏹ 停止", help="停在当前这一轮之前；说过的话都留着")  # a click reruns the page, which ends the loop
    if c3.button("🆕 新话题"):
        rooms.pop(novel, None)
        st.rerun()
    if room is not None:
        render_turns(room)
        c1, c2 = st.columns(2)
        c1.download_button("下载记录（Markdown）", room.to_markdown().encode("utf-8"), "chatroom.md", "text/markdown")
        c2.download_button("下载记录（JSONL）", room.to_jsonl().encode("utf-8"), "chatroom.jsonl",
                           "application/jsonl")
    said = st.chat_input("插话（说完后下一位接着说）")
    if not (go or said):
        return
    try:
        if room is None:
            room = rooms[novel] = make_room(s, novel, who, topic, order)
        if said:
            room.interject(said)
            st.chat_message("user").write(said)
        talk(room, 1 if said and not go else int(turns))
    except ShuWenError as e:
        st.error(str(e))
        return
    st.rerun()
