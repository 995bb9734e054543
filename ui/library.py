"""The 书库 page: upload a novel, check how it reads, build its store; rebuild or delete stores.

Builds go through `rag.index.build.build_index`, the code path of gen_chroma.py: a new collection is
written and published in one step, so a failed or abandoned upload leaves every existing store untouched.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from rag.errors import ShuWenError
from rag.index.uploads import save_upload
from rag.names import MAX_NAME_CHARS, check_name, name_from_filename
from rag.settings import Settings
from ui import resources


@st.cache_data(max_entries=8, show_spinner="正在读取与切分…")
def preview(path: str, name: str, chunk_size: int, chunk_overlap: int, t2s: bool, max_file_mb: float) -> dict:
    """Encoding, chapters and chunk count of an uploaded file, computed once per file and chunker settings."""
    from rag.index.build import load_for
    from rag.settings import load_settings

    s = load_settings(chunk_size=chunk_size, chunk_overlap=chunk_overlap, t2s=t2s, max_file_mb=max_file_mb)
    novel = load_for(s, Path(path), name)
    return {**novel.summary(), "titles": [ch.title for ch in novel.chapters[:8]], "more": len(novel.chapters) > 8}


def _build(s: Settings, path: Path, name: str, rebuild: bool = False) -> None:
    from rag.index.build import build_index

    lock = resources.build_lock()
    if not lock.acquire(blocking=False):
        st.warning("另一本书正在建库，请稍后再试。")
        return
    try:
        bar = st.progress(0.0, text="正在切分与嵌入…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"嵌入 {done}/{total} 段")

        res = build_index(s, path, name, rebuild=rebuild, progress=progress,
                          library=resources.library(resources.store_key(s)))
        bar.progress(1.0, text="完成")
    finally:
        lock.release()
    m = res.manifest
    if res.up_to_date:
        st.session_state["flash"] = f"《{m.name}》已是最新（{m.chunks} 段）。"
    else:
        st.session_state["flash"] = (f"《{m.name}》建库完成：{m.chapters} 章回，{m.chunks} 段，新嵌入 {res.embedded} 段，"
                                     f"用时 {m.build_seconds:.1f} 秒。")
    st.rerun()  # the new store shows in the table and in the novel picker


def upload_section(s: Settings, names: list[str]) -> None:
    st.subheader("上传小说")
    up = st.file_uploader(f"选择 .txt 文件（UTF-8、GBK/GB18030 或 Big5，不超过 {s.max_file_mb:g} MB）",
                          type=["txt"], key="upload")
    if up is None:
        return
    try:
        path = save_upload(up.getvalue(), up.name, s)
        typed = st.text_input("书名", value=name_from_filename(up.name), max_chars=MAX_NAME_CHARS,
                              key="upload_name").strip()
        name = check_name(typed) if typed else name_from_filename(up.name)
        info = preview(str(path), name, s.chunk_size, s.chunk_overlap, s.t2s, s.max_file_mb)
    except ShuWenError as e:
        st.error(f"无法读取 {up.name}：{e}")
        return
    cols = st.columns(4)
    cols[0].metric("编码", info["encoding"])
    cols[1].metric("章回", info["chapters"])
    cols[2].metric("段落", info["chunks"])
    cols[3].metric("字数", f"{info['chars']:,}")
    st.caption("章回：" + "；".join(info["titles"]) + ("……" if info["more"] else ""))
    if name in names:
        st.info(f"书库里已有《{name}》：建库会更新它（只嵌入变化的段落）。")
    if st.button("建立索引", type="primary", key="build"):
        try:
            _build(s, path, name)
        except ShuWenError as e:
            st.error(f"建库失败，原有书库未受影响：{e}")


def stores_section(s: Settings) -> list[str]:
    lib = resources.library(resources.store_key(s))
    manifests = lib.manifests()
    st.subheader("已建的书")
    if not manifests:
        st.info("书库为空。")
        return []
    st.dataframe([{
        "书名": m.name, "章回": m.chapters, "段落": m.chunks, "字数": m.chars, "编码": m.encoding,
        "嵌入模型": m.embedding_model, "建库用时 (s)": m.build_seconds,
        "建于": dt.datetime.fromtimestamp(m.built_at).strftime("%Y-%m-%d %H:%M"),
    } for m in manifests], hide_index=True, use_container_width=True)
    names = [m.name for m in manifests]
    name = st.selectbox("管理", names, key="manage")
    m = next(x for x in manifests if x.name == name)
    c1, c2 = st.columns(2)
    with c1:
        if st.button("重建", key="rebuild", help="重新切分并嵌入全部段落；完成前旧库照常可用"):
            src = Path(m.source_path)
            if not src.is_file():
                st.error(f"找不到《{name}》的原文件 {src}，请重新上传。")
            else:
                try:
                    _build(s, src, name, rebuild=True)
                except ShuWenError as e:
                    st.error(f"重建失败，原有书库未受影响：{e}")
    with c2:
        sure = st.checkbox(f"确认删除《{name}》", key="confirm_delete")
        if st.button("删除", key="delete", disabled=not sure):
            lib.delete(name)
            st.session_state.get("chats", {}).pop(name, None)
            st.session_state.pop("confirm_delete", None)
            st.session_state["flash"] = f"已删除《{name}》。"
            st.rerun()
    return names


def page() -> None:
    s = resources.settings()
    st.title("书库")
    if msg := st.session_state.pop("flash", None):
        st.success(msg)
    try:
        names = stores_section(s)
        st.divider()
        upload_section(s, names)
    except ShuWenError as e:
        st.error(f"打不开书库：{e}")
