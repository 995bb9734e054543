"""Retrieve passages for a question (vector search through langchain-chroma; hybrid comes later)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rag.index.embeddings import get_embeddings
from rag.index.store import Library
from rag.settings import Settings


@dataclass
class Passage:
    """A retrieved chunk with its place in the book."""

    text: str
    chapter: int
    chapter_title: str
    start: int
    end: int
    score: float
    chunk_id: str

    def to_dict(self) -> dict:
        return asdict(self)


def vector_search(settings: Settings, name: str, question: str, k: int | None = None,
                  library: Library | None = None) -> list[Passage]:
    """Top-k passages of novel `name` by cosine similarity to the question."""
    from langchain_chroma import Chroma

    lib = library or Library(settings)
    emb = get_embeddings(settings)
    manifest = lib.require(name, emb.model_id)
    store = Chroma(client=lib.client, collection_name=manifest.collection, embedding_function=emb)
    hits = store.similarity_search_with_score(question, k=k or settings.k)
    return [
        Passage(text=doc.page_content, chapter=int(doc.metadata["chapter"]),
                chapter_title=str(doc.metadata["chapter_title"]), start=int(doc.metadata["start"]),
                end=int(doc.metadata["end"]), score=round(1.0 - float(dist), 4),
                chunk_id=str(doc.metadata["chunk_id"]))
        for doc, dist in hits
    ]
