"""A store's BM25 index on disk: built with the store (rag/index/build.py), read by the retriever."""

from __future__ import annotations

import sys

from rag.lexical import LexicalIndex
from rag.settings import Settings


def lexical_index(settings: Settings, collection_name: str, collection) -> LexicalIndex:
    """A collection's BM25 index: read from disk, or built from its chunks and saved (once per build)."""
    path = settings.beside_store / "lexical" / f"{collection_name}.pkl"
    index = LexicalIndex.load(path) if path.exists() else None
    if index is None:
        print("[retrieve] building the BM25 index for this store (once) …", file=sys.stderr, flush=True)
        got = collection.get(include=["documents", "metadatas"])
        metas = got["metadatas"]
        index = LexicalIndex.build(got["ids"], got["documents"], [int(m["chapter_index"]) for m in metas],
                                   [int(m["seq"]) for m in metas], [str(m["chapter_title"]) for m in metas])
        index.save(path)
        prefix = collection_name.rsplit("_", 1)[0]
        for old in path.parent.glob(f"{prefix}_*.pkl"):  # indexes of replaced builds
            if old != path:
                old.unlink(missing_ok=True)
    return index
