"""The reference-style baseline, so every gain of 书问 is a measured difference in the same eval run.

Reference = LangChain `RecursiveCharacterTextSplitter(600, 100)` defaults on the raw file, vector-only
search with k=4, the four whole passages in the reference's prompt (which lets the model fall back to its
own knowledge). The store lives in the same library under `<name>__reference`.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from rag.generate.prompter import Prompter
from rag.index.embeddings import get_embeddings
from rag.index.store import Library, Manifest
from rag.ingest.decode import decode_file
from rag.retrieve import Passage
from rag.settings import Settings

REFERENCE_K = 4


def reference_name(name: str) -> str:
    return f"{name}__reference"


def ensure_reference_store(settings: Settings, name: str, lib: Library) -> Manifest:
    """Build the reference-style store for novel `name` from its source file, once."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    ref = reference_name(name)
    have = lib.manifest(ref)
    source = lib.require(name)
    if have and have.source_sha256 == source.source_sha256:
        return have
    t0 = time.time()
    text = decode_file(Path(source.source_path), settings.max_file_mb).text
    docs = RecursiveCharacterTextSplitter(chunk_size=600, chunk_overlap=100, add_start_index=True).create_documents([text])
    emb = get_embeddings(settings)
    vectors = emb.embed_passages([d.page_content for d in docs])
    coll = lib.new_collection(ref)
    ids = [f"{hashlib.sha1(d.page_content.encode()).hexdigest()[:16]}-{i}" for i, d in enumerate(docs)]
    metas = [{"chapter": 0, "chapter_index": 0, "chapter_title": "", "start": d.metadata["start_index"],
              "end": d.metadata["start_index"] + len(d.page_content), "chunk_id": ids[i], "seq": i, "novel": ref}
             for i, d in enumerate(docs)]
    lib.write(coll, ids, [d.page_content for d in docs], metas, vectors)
    m = Manifest(name=ref, collection=coll.name, embedding_model=emb.model_id, embedding_dim=emb.dim,
                 embedding_precision=getattr(emb, "precision", settings.embedding_precision), chunk_size=600, chunk_overlap=100,
                 chunker="langchain-recursive-default", source_path=source.source_path,
                 source_sha256=source.source_sha256, encoding=source.encoding, chapters=0, chunks=len(docs),
                 chars=len(text), built_at=time.time(), build_seconds=round(time.time() - t0, 2))
    lib.publish(m)
    return m


class ReferenceAsker:
    """Answers the way the reference project did: vector top-4, whole passages, its prompt."""

    def __init__(self, settings: Settings, name: str, library: Library | None = None, backend=None):
        from rag.retrieve import Retriever

        lib = library or Library(settings)
        ensure_reference_store(settings, name, lib)
        self.name = name
        self.retriever = Retriever(settings, reference_name(name), lib)
        self.prompter = Prompter("reference")
        self.settings = settings
        self._backend = backend

    def retrieve(self, question: str) -> list[Passage]:
        return self.retriever.vector(question, REFERENCE_K)

    def answer(self, question: str) -> tuple[str, list[Passage], dict]:
        if self._backend is None:
            from rag.generate.backends import get_backend

            self._backend = get_backend(self.settings)
        t0 = time.perf_counter()
        passages = self.retrieve(question)
        timings = {"retrieval_s": round(time.perf_counter() - t0, 3)}
        text = ""
        for piece in self._backend.stream(self.prompter.messages(self.name, question, passages, knowledge=True)):
            timings.setdefault("first_token_s", round(time.perf_counter() - t0, 3))
            text += piece
        timings["total_s"] = round(time.perf_counter() - t0, 3)
        return text.strip(), passages, timings
