"""书问 Streamlit page (retrieval preview; the answering and speaking page builds on it)."""

from __future__ import annotations

import os

import streamlit as st

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from rag.errors import ShuWenError  # noqa: E402
from rag.settings import load_settings  # noqa: E402


@st.cache_resource
def _library(store: tuple):
    """One Chroma client per store location (the cache key), shared by every browser session."""
    from rag.index.store import Library

    return Library(load_settings())


@st.cache_resource
def _retriever(name: str, store: tuple):
    """One retriever per novel, shared by every browser session (models and indexes load once)."""
    from rag.retrieve import Retriever

    return Retriever(load_settings(), name, _library(store))


def main() -> None:
    st.set_page_config(page_title="书问 ShuWen", page_icon="📖")
    st.title("书问 · 问书")
    settings = load_settings()
    store = (str(settings.store_dir), settings.store_backend, settings.chroma_host, settings.chroma_port)
    try:
        lib = _library(store)
        names = [m.name for m in lib.manifests()]
    except ShuWenError as e:
        st.error(str(e))
        return
    if not names:
        st.warning("书库为空：先运行 `python gen_chroma.py --novel 小说.txt` 建立索引。")
        return
    default = names.index(settings.default_novel) if settings.default_novel in names else 0
    name = st.sidebar.selectbox("小说", names, index=default)
    k = st.sidebar.slider("检索段落数 k", 1, 10, settings.k)
    question = st.chat_input("问一个关于这本书的问题")
    if question:
        st.chat_message("user").write(question)
        try:
            passages = _retriever(name, store).search(question, k)
        except ShuWenError as e:
            st.error(str(e))
            return
        with st.chat_message("assistant"):
            st.write(f"找到 {len(passages)} 段相关原文：")
            for p in passages:
                with st.expander(f"{p.chapter_title} · 第 {p.start}–{p.end} 字 · 相似度 {p.score:.2f}"):
                    st.write(p.text)


main()
