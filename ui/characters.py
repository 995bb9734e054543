"""The 角色 page: the novel's character cards as a gallery; chat with one, run one of the seven tasks, ask one
character's view of another, edit the card, import, export or draft one from the book."""

from __future__ import annotations

import html
import re
import time

import streamlit as st

from rag.errors import ShuWenError
from rag.settings import Settings
from ui import resources
from ui.chat import render_speech

MODES = ["聊天", "任务", "看法", "编辑卡片", "新角色"]
AVATAR = "🎭"
FIELDS = [("description", "人物描述"), ("personality", "性格"), ("scenario", "场景"), ("first_mes", "开场白"),
          ("mes_example", "对话示例（<START> 分段）"), ("system_prompt", "系统提示（可留空）"),
          ("post_history_instructions", "每轮附加指令（可留空）"), ("creator_notes", "作者备注（不发给模型）")]
_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def plain(text: str) -> str:
    """Card text for st.markdown: every markdown sign escaped, so a card can neither link nor format."""
    return _MD.sub(r"\\\1", text or "")


def character(s: Settings, card: dict):
    """A Character on the page's shared model and retriever (its own backend when the card names one)."""
    from roleplay.chat import Character, settings_for

    own = settings_for(s, card)
    bk = resources.backend(resources.backend_key(s)) if resources.backend_key(own) == resources.backend_key(s) \
        else None
    novel = card["data"]["extensions"]["shuwen"].get("novel")
    retr = None
    if novel and novel in resources.novel_names(s):
        m = resources.library(resources.store_key(s)).require(novel)
        retr = resources.retriever(novel, m.collection, resources.store_key(s))
    return Character(s, card, backend=bk, retriever=retr)


def render_reply(turn: dict, s: Settings) -> None:
    """A character's reply: the text, the passages and own lines it stood on, and 🔊 in the character's voice."""
    if turn.get("error"):
        st.error(turn["error"])
        return
    st.markdown(turn["answer"])
    if turn.get("citations"):  # the book's answer the character said (roleplay_facts)
        st.caption("书中答案出处：" + "、".join(f"第{c}回" for c in turn["citations"]))
    if turn.get("passages") or turn.get("lines"):
        with st.expander(f"出处（{len(turn.get('passages', []))} 段书中段落，{len(turn.get('lines', []))} 句原话）"):
            for p in turn.get("passages", []):
                st.markdown(f'<div class="sw-passage">〔第{p["chapter"]}回〕{html.escape(p["text"])}</div>',
                            unsafe_allow_html=True)
            for line in turn.get("lines", []):
                st.markdown(f'<div class="sw-passage">「{html.escape(line)}」</div>', unsafe_allow_html=True)
    render_speech(turn, s)


def speak_as(who, message: str, history: list[tuple[str, str]], query: str | None = None) -> dict:
    """Stream the character's reply into the page; returns the turn to keep."""
    from roleplay.chat import Reply

    turn = {"id": f"{time.time_ns():x}", "question": message}
    reply = Reply()
    try:
        with resources.model_turn():
            box = st.empty()
            with box.container():
                st.write_stream(who.stream(message, history, reply, query))
            box.markdown(reply.text)
    except ShuWenError as e:
        turn["error"] = f"无法回答：{e}"
        return turn
    turn.update(answer=reply.text, passages=[{"chapter": p.chapter, "text": p.text} for p in reply.passages],
                lines=reply.lines, regenerated=reply.regenerated, timings=reply.timings, citations=reply.citations)
    return turn


def gallery(s: Settings, novel: str, names: list[str]) -> str | None:
    """Cards as buttons, four to a row; returns the chosen name."""
    from roleplay import store

    key = f"character-{novel}"
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[0] if names else None
    cols = st.columns(4)
    for i, name in enumerate(names):
        with cols[i % 4]:
            card = store.load(s, novel, name)
            ident = card["data"]["extensions"]["shuwen"].get("identity") or card["data"]["description"][:24]
            chosen = st.session_state[key] == name
            if st.button(("👤 " if chosen else "") + name, key=f"pick-{novel}-{name}", use_container_width=True,
                         type="primary" if chosen else "secondary"):
                st.session_state[key] = name
                st.rerun()
            st.caption(plain(ident))
    return st.session_state[key]


def chat_mode(s: Settings, who, card: dict) -> None:
    history = st.session_state.setdefault("rp-chats", {}).setdefault((who.novel, who.name), [])
    if card["data"]["first_mes"]:
        from roleplay.card import substitute

        st.chat_message("assistant", avatar=AVATAR).markdown(plain(substitute(card["data"]["first_mes"],
                                                                                    who.name)))
    own = _own_settings(s, card)
    for turn in history:
        st.chat_message("user").write(turn["question"])
        with st.chat_message("assistant", avatar=AVATAR):
            render_reply(turn, own)
    message = st.chat_input(f"和{who.name}说话")
    if message:
        st.chat_message("user").write(message)
        with st.chat_message("assistant", avatar=AVATAR):
            pairs = [(t["question"], t["answer"]) for t in history if t.get("answer")][-4:]
            history.append(speak_as(who, message, pairs))
        st.rerun()


def _own_settings(s: Settings, card: dict) -> Settings:
    from roleplay.chat import settings_for

    return settings_for(s, card)


def task_mode(s: Settings, who, card: dict) -> None:
    tasks = who.template["tasks"]
    task = st.selectbox("任务", list(tasks), format_func=lambda t: f"{t} · {tasks[t]['label']}", key="rp-task")
    topic = st.text_input("主题（故事、信、聊天、时间、关于要用）", key="rp-topic", placeholder="例如：三打白骨精")
    extra = st.text_area("补充信息（可选）", key="rp-extra", height=80)
    _run_once(s, who, card, "生成", lambda: (who.task(task, topic, extra), None))


def view_mode(s: Settings, who, card: dict, names: list[str]) -> None:
    from roleplay import store

    others = [n for n in names if n != who.name]
    pick = st.selectbox("对谁的看法", others + ["（其他人，手填）"], key="rp-view") if others else "（其他人，手填）"
    other = st.text_input("名字", key="rp-view-name") if pick == "（其他人，手填）" else pick
    extra = st.text_area("补充信息（可选）", key="rp-view-extra", height=80)

    def message():
        if not other.strip():
            raise ShuWenError("写上一个名字")
        target = store.load(s, who.novel, other) if other in others else other.strip()
        return who.view_of(target, extra)

    _run_once(s, who, card, "说说看法", message)


def _run_once(s: Settings, who, card: dict, label: str, make) -> None:
    key = f"rp-last-{who.novel}-{who.name}"
    if st.button(label, type="primary", key=f"rp-run-{label}"):
        try:
            message, query = make()
        except ShuWenError as e:
            st.error(str(e))
            return
        with st.chat_message("assistant", avatar=AVATAR):
            st.session_state[key] = speak_as(who, message, [], query)
        st.rerun()
    if st.session_state.get(key):
        with st.chat_message("assistant", avatar=AVATAR):
            render_reply(st.session_state[key], _own_settings(s, card))


def edit_mode(s: Settings, card: dict) -> None:
    """The card's fields as inputs; saving writes the card file (unknown fields kept)."""
    from roleplay import store
    from roleplay.card import blank_png, card_json, png_with_card

    d, sw = card["data"], card["data"]["extensions"]["shuwen"]
    with st.form(f"edit-{d['name']}"):
        st.text_input("名字", d["name"], disabled=True)
        aliases = st.text_input("别名（逗号分隔）", "，".join(sw.get("aliases", [])))
        c1, c2, c3 = st.columns(3)
        self_ref = c1.text_input("自称", sw.get("self_ref", ""))
        voice = c2.text_input("声音（edge-tts）", sw.get("voice", ""), placeholder="zh-CN-YunxiNeural")
        pitch = c3.number_input("音高（离线，%）", -50, 50, int(sw.get("pitch") or 0))
        identity = st.text_input("身份", sw.get("identity", ""))
        values = {f: st.text_area(label, d[f], height=90) for f, label in FIELDS}
        if st.form_submit_button("保存", type="primary"):
            d.update(values)
            sw.update(aliases=[a.strip() for a in re.split(r"[,，、]", aliases) if a.strip()], self_ref=self_ref,
                      voice=voice.strip(), pitch=int(pitch), identity=identity)
            try:
                store.save(s, card)
                st.success("已保存")
            except ShuWenError as e:
                st.error(str(e))
    c1, c2 = st.columns(2)
    c1.download_button("导出 JSON", card_json(card).encode("utf-8"), f"{d['name']}.json", "application/json")
    c2.download_button("导出 PNG（SillyTavern）", png_with_card(blank_png(), card), f"{d['name']}.png", "image/png")


def new_mode(s: Settings, novel: str) -> None:
    """Import a card (JSON or SillyTavern PNG) or draft one from the book."""
    from roleplay import store
    from roleplay.card import read_card

    st.subheader("导入卡片")
    up = st.file_uploader("Character Card V2（.json 或 .png）", type=["json", "png"], key="rp-import")
    if up is not None and st.button("导入", key="rp-import-go"):
        try:
            card = read_card(up.getvalue())
            card["data"]["extensions"]["shuwen"]["novel"] = card["data"]["extensions"]["shuwen"]["novel"] or novel
            store.save(s, card)
            st.session_state[f"character-{novel}"] = card["data"]["name"]
            st.success(f"已导入 {card['data']['name']}")
            st.rerun()
        except ShuWenError as e:
            st.error(f"导入失败：{e}")
    st.subheader("从书中起草")
    with st.form("rp-draft"):
        name = st.text_input("名字", placeholder="例如：牛魔王")
        aliases = st.text_input("别名（逗号分隔，可选）", placeholder="大力王，牛王")
        self_ref = st.text_input("自称（可选）", placeholder="俺")
        use_model = st.checkbox("让模型概括人物（约一分钟）", value=True)
        if st.form_submit_button("起草", type="primary"):
            from roleplay.draft import draft_card

            try:
                with resources.model_turn(), st.spinner("正在读书、找原话…"):
                    card, report = draft_card(s, novel, name.strip(), [a.strip() for a in re.split(r"[,，、]", aliases)
                                                                       if a.strip()], self_ref.strip(), use_model)
                store.save(s, card)
                st.session_state[f"character-{novel}"] = card["data"]["name"]
                st.success(f"已起草 {card['data']['name']}：{report['lines']} 句原话。去「编辑卡片」修改。")
            except ShuWenError as e:
                st.error(f"起草失败：{e}")


def open_novel(title: str) -> tuple[Settings, str, list[str]] | None:
    """(settings, novel, its card names) for a roleplay page titled `title`, or None when the library is empty."""
    from roleplay import store

    s = resources.settings()
    novel = resources.pick_novel(s)
    if novel is None:
        return None
    st.title(f"{title} ·《{novel}》")
    return s, novel, store.list_names(s, novel)


def page() -> None:
    from roleplay import store

    if (opened := open_novel("角色")) is None:
        return
    s, novel, names = opened
    mode = st.radio("做什么", MODES if names else ["新角色"], horizontal=True, key="rp-mode",
                    label_visibility="collapsed")
    if not names:
        st.info("这本书还没有角色卡片：导入一张（SillyTavern 的 PNG/JSON 都行），或从书中起草一张。")
    if mode == "新角色":
        new_mode(s, novel)
        return
    name = gallery(s, novel, names)
    card = store.load(s, novel, name)
    if mode == "编辑卡片":
        edit_mode(s, card)
        return
    who = character(s, card)
    if mode == "聊天":
        chat_mode(s, who, card)
    elif mode == "任务":
        task_mode(s, who, card)
    else:
        view_mode(s, who, card, names)
