"""书问 Streamlit page: 问书 (ask, stream, sources, 🔊), 角色 (character cards: chat, tasks, views, edit),
聊天室 (characters talk on a topic) and 书库 (upload, build, rebuild, delete)."""

from __future__ import annotations

import os

import streamlit as st

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ui import characters, chat, chatroom, library  # noqa: E402

PAGES = {"问书": chat.page, "角色": characters.page, "聊天室": chatroom.page, "书库": library.page}
_CSS = """<style>
.sw-passage {font-size: 0.92rem; line-height: 1.7; margin-bottom: 0.8rem;}
.sw-passage mark {background: #ffe58f; padding: 0 1px;}
</style>"""


def main() -> None:
    st.set_page_config(page_title="书问 ShuWen", page_icon="📖", layout="centered")
    st.markdown(_CSS, unsafe_allow_html=True)
    page = st.sidebar.radio("页面", list(PAGES), horizontal=True, key="page", label_visibility="collapsed")
    try:
        PAGES[page]()
    except Exception as e:  # the reader sees a message, never a traceback (st.rerun is a BaseException)
        st.error(f"出错了：{type(e).__name__}: {e}")


main()
