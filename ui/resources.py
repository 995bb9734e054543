"""Process-wide resources of the page: loaded once (`st.cache_resource`) and shared by every browser session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from rag.settings import Settings, load_settings


def settings() -> Settings:
    """The page's settings (defaults < shuwen.toml < SHUWEN_* env), read on every run so edits apply."""
    return load_settings()


def store_key(s: Settings) -> tuple:
    return (str(s.store_dir), s.store_backend, s.chroma_host, s.chroma_port)


@st.cache_resource(show_spinner=False)
def library(store: tuple):
    """One Chroma client per store location (the cache key)."""
    from rag.index.store import Library

    return Library(settings())


@st.cache_resource(show_spinner="正在载入检索索引…")
def retriever(name: str, collection: str, store: tuple):
    """One retriever per novel build: a rebuilt store has a new collection, hence a new cache entry."""
    from rag.retrieve import Retriever

    return Retriever(settings(), name, library(store))


@st.cache_resource(show_spinner="正在载入对话模型…")
def backend(key: tuple):
    """The chat model, loaded once per process whatever the number of readers."""
    from rag.generate.backends import get_backend

    return get_backend(settings())


def backend_key(s: Settings) -> tuple:
    return (s.chat_backend, s.chat_model, s.adapter, s.lora_gguf, s.openai_base_url, s.n_ctx)


@st.cache_resource
def answer_lock() -> threading.Lock:
    """One answer at a time: llama.cpp is not thread-safe and two answers would only halve each other's speed."""
    return threading.Lock()


class Waiting:
    """How many readers wait for the model, so each can be told their place in the queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = 0

    def join(self) -> int:
        """Join the queue; returns the number of answers ahead (the one being generated included)."""
        with self._lock:
            self.count += 1
            return self.count

    def leave(self) -> None:
        with self._lock:
            self.count -= 1


@st.cache_resource
def waiting() -> Waiting:
    return Waiting()


@st.cache_resource
def build_lock() -> threading.Lock:
    """One index build at a time per process."""
    return threading.Lock()


@contextmanager
def model_turn(lock: threading.Lock | None = None) -> Iterator[None]:
    """Hold the model for one reply; a reader who has to wait is told their place in the queue."""
    lock = lock or answer_lock()
    if not lock.acquire(blocking=False):
        queue = waiting()
        ahead = queue.join()
        try:
            with st.spinner(f"排队中：前面还有 {ahead} 个问题…"):
                lock.acquire()
        finally:
            queue.leave()
    try:
        yield
    finally:
        lock.release()


def novel_names(s: Settings) -> list[str]:
    """The built novels of the store, or [] with an error shown."""
    from rag.errors import ShuWenError

    try:
        return [m.name for m in library(store_key(s)).manifests()]
    except ShuWenError as e:
        st.error(f"打不开书库：{e}")
        return []


def pick_novel(s: Settings) -> str | None:
    """The sidebar's novel picker (shared by the pages); None, with a message, when the library is empty."""
    novels = novel_names(s)
    if not novels:
        st.warning("书库为空：先在「书库」页建立一本小说的索引。")
        return None
    default = novels.index(s.default_novel) if s.default_novel in novels else 0
    return st.sidebar.selectbox("小说", novels, index=default, key="novel")
