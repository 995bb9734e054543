"""Retrieve passages for a question: vector search (langchain-chroma), BM25, and their fusion."""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from rag.aliases import as_the_book_says
from rag.contract import Passage  # noqa: F401  (re-exported: the passage the retrievers return)
from rag.index.embeddings import get_embeddings
from rag.index.lexical import lexical_index
from rag.index.store import Library
from rag.kinds import asks_for, has_kind
from rag.lexical import LexicalIndex
from rag.settings import Settings

EXACT_LIMIT = 200_000  # chunks; above this, vector search uses Chroma's HNSW index


@dataclass
class Candidate:
    """A pooled passage with what the retrievers said of it: its rank in each list and its cosine to the question."""

    passage: Passage
    ranks: dict[str, int]  # 0-based rank in the fused list ("fused") and in each retriever's list it appears in
    sim: float = 0.0


def reader_precision(manifest, wanted: str) -> str:
    """The embedding precision to read a store with: the family it was built with (fp32, or int8 in this CPU's
    recipe); the settings' own value when it resolves to that family here (one embedder in memory, not two)."""
    from rag.index.e5_onnx import resolve_precision

    built = str(manifest.embedding_precision)
    family = "fp32" if built == "fp32" else "int8" if built.startswith("int8") else None
    return wanted if family is None or resolve_precision(wanted) == family else family


def _passage(text: str, meta: dict, score: float) -> Passage:
    return Passage(text=text, chapter=int(meta["chapter"]), chapter_title=str(meta["chapter_title"]),
                   start=int(meta["start"]), end=int(meta["end"]), score=round(float(score), 4),
                   chunk_id=str(meta["chunk_id"]))


def _distinct(passages: list[Passage], k: int) -> list[Passage]:
    """The first k passages with distinct text: a chapter posted twice must not fill two of the k places."""
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.text not in seen:
            seen.add(p.text)
            out.append(p)
    return out[:k]


def rrf(rankings: list[list[str]], k: int = 60, weights: list[float] | None = None) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of several ranked id lists (optionally weighted), best first."""
    scores: dict[str, float] = collections.defaultdict(float)
    for ranking, w in zip(rankings, weights or [1.0] * len(rankings)):
        for r, cid in enumerate(ranking):
            scores[cid] += w / (k + r + 1)
    return sorted(scores.items(), key=lambda kv: -kv[1])


class Retriever:
    """Search one novel's store; models and indexes load once and are reused across questions."""

    def __init__(self, settings: Settings, name: str, library: Library | None = None):
        from langchain_chroma import Chroma

        self.settings = settings
        self.lib = library or Library(settings)
        self.manifest = self.lib.require(name)
        # the store owns its model: questions are embedded as its chunks were, whatever model the settings name
        # for new builds (the int8 recipe still follows this CPU: rag/index/e5_onnx.py)
        self.emb = get_embeddings(settings.replace(embedding_model=self.manifest.embedding_model,
                                                   embedding_precision=reader_precision(self.manifest, settings.embedding_precision)))
        self.collection = self.lib.collection(self.manifest)
        self.store = Chroma(client=self.lib.client, collection_name=self.manifest.collection,
                            embedding_function=self.emb)
        self._lexical: LexicalIndex | None = None
        self._matrix: np.ndarray | None = None
        self._ids: list[str] = []
        self._exact = self.manifest.chunks <= EXACT_LIMIT  # a build's collection never changes size

    def _similarities(self, question: str) -> np.ndarray:
        """Cosine similarity of the question to every chunk, in `self._ids` order."""
        # A novel has a few thousand chunks: exact search is faster than HNSW and, unlike it, gives the
        # same top-k in every process (HNSW results varied between runs here).
        if self._matrix is None:
            got = self.collection.get(include=["embeddings"])
            self._ids, self._matrix = got["ids"], np.asarray(got["embeddings"], np.float32)
        return self._matrix @ np.asarray(self.emb.embed_query(question), np.float32)

    def _vector_ranking(self, question: str, n: int, sims: np.ndarray | None = None,
                        max_seq: int | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the top-n chunks (up to `max_seq`), without fetching their text."""
        sims = self._similarities(question) if sims is None else sims
        if max_seq is not None:
            sims = np.where(self._readable(self._ids, max_seq), sims, -np.inf)
        return [(self._ids[i], float(sims[i])) for i in np.argsort(-sims, kind="stable")[:n] if sims[i] > -np.inf]

    def positions(self) -> list[tuple[int, int, int]]:
        """(seq, chapter number, chapter_index) of every chunk: where each stands in the book (spoiler guard)."""
        if not hasattr(self, "_positions"):
            got = self.collection.get(include=["metadatas"])
            self._seq = {i: int(m["seq"]) for i, m in zip(got["ids"], got["metadatas"])}
            self._ends = {int(m["seq"]): int(m["end"]) for m in got["metadatas"]}
            self._positions = [(int(m["seq"]), int(m["chapter"]), int(m["chapter_index"])) for m in got["metadatas"]]
        return self._positions

    def readable_end(self, max_seq: int | None) -> int | None:
        """The book offset where the readable part ends (None: the whole book)."""
        if max_seq is None:
            return None
        self.positions()
        return max((e for seq, e in self._ends.items() if seq <= max_seq), default=0)

    def _readable(self, ids: list[str], max_seq: int) -> np.ndarray:
        """Which of `ids` stand at or before `max_seq` in the book."""
        self.positions()
        return np.array([self._seq.get(i, 1 << 62) <= max_seq for i in ids], bool)

    def _chapter_ranking(self, question: str, sims: np.ndarray, lex: LexicalIndex, n: int) -> list[str]:
        """Chunks by vector similarity plus how well their whole chapter matches the question (BM25).

        Readers ask about a scene by names and places the answer sentence itself often lacks (they were said
        earlier in the chapter); the chapter score lifts the chunks of the right chapter.
        """
        if not hasattr(self, "_lex_pos") or len(self._lex_pos) != len(self._ids):
            pos = {cid: i for i, cid in enumerate(lex.chunk_ids)}
            self._lex_pos = np.array([pos[cid] for cid in self._ids], np.int64)
        chap = lex.chapter_scores(question, self.settings.alias_weight)[self._lex_pos]

        def z(x: np.ndarray) -> np.ndarray:
            return (x - x.mean()) / (x.std() + 1e-9)

        score = z(sims) + self.settings.chapter_weight * z(chap)
        return [self._ids[i] for i in np.argsort(-score, kind="stable")[:n]]

    def vector(self, question: str, n: int, max_seq: int | None = None) -> list[Passage]:
        """Top-n by cosine similarity (score = 1 − cosine distance), up to `max_seq` in the book."""
        if not self._exact:  # big stores: Chroma's approximate HNSW search
            where = {"seq": {"$lte": max_seq}} if max_seq is not None else None
            hits = self.store.similarity_search_with_score(question, k=n, filter=where)
            return [_passage(doc.page_content, doc.metadata, 1.0 - dist) for doc, dist in hits]
        ranking = self._vector_ranking(question, 2 * n, max_seq=max_seq)
        data = self._fetch([cid for cid, _ in ranking])
        return _distinct([_passage(*data[cid], sim) for cid, sim in ranking], n)

    def lexical(self) -> LexicalIndex:
        """The BM25 index of this store, cached on disk per built collection."""
        if self._lexical is None:
            self._lexical = lexical_index(self.settings, self.manifest.collection, self.collection)
        return self._lexical

    def _fetch(self, ids: list[str]) -> dict[str, tuple[str, dict]]:
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        return {i: (d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               max_seq: int | None = None) -> list[Passage]:
        """Top-k passages; `mode` is hybrid (RRF of vector, BM25, neighbour-window BM25 and chapter-aware), vector or
        bm25; `max_seq` keeps only passages up to that point of the book (the spoiler guard)."""
        return [c.passage for c in self.pool(question, k, mode, max_seq)]

    def pool(self, question: str, k: int | None = None, mode: str | None = None,
             max_seq: int | None = None) -> list[Candidate]:
        """The top-k fused passages with each retriever's rank of them: the evidence ranker's candidates."""
        k = k or self.settings.k
        mode = mode or self.settings.retrieval_mode
        n = max(self.settings.candidates, k)
        if mode == "vector":
            return [Candidate(p, {"fused": r, "vector": r}, p.score) for r, p in enumerate(self.vector(question, k, max_seq))]
        lex = self.lexical()
        # with a cut, rank everything and drop what lies beyond it: the top n must be n readable chunks
        pool = n if max_seq is None else len(lex.chunk_ids)

        def readable(ids: list[str]) -> list[str]:
            return ids[:n] if max_seq is None else [i for i, ok in zip(ids, self._readable(ids, max_seq)) if ok][:n]

        aw = self.settings.alias_weight
        rankings: dict[str, list[str]] = {"bm25": readable([lex.chunk_ids[i] for i in lex.rank(question, "chunks", pool, aw)])}
        weights = {"bm25": 1.0}
        sims: dict[str, float] = {}
        if mode != "bm25":
            rankings["window"] = readable([lex.chunk_ids[i] for i in lex.rank(question, "windows", pool, aw)])
            weights["window"] = 1.0
            if self._exact:
                all_sims = self._similarities(question)
                vec = self._vector_ranking(question, n, all_sims, max_seq)
                rankings["vector"] = [cid for cid, _ in vec]
                sims = {cid: float(all_sims[i]) for i, cid in enumerate(self._ids)}
                if self.settings.chapter_weight > 0:
                    # the chapter-aware list counts double: measured best on 西游记 and the sample (docs/benchmarks.md)
                    rankings["chapter"] = readable(self._chapter_ranking(question, all_sims, lex, pool))
                    weights["chapter"] = 2.0
                if self.settings.alias_vector > 0:
                    alt = as_the_book_says(question, lex.tokenizer().tokens(question), lex.aliases, lex.idf())
                    if alt != question:
                        rankings["alias"] = [cid for cid, _ in self._vector_ranking(alt, n, None, max_seq)]
                        weights["alias"] = self.settings.alias_vector
            else:
                hits = self.vector(question, n, max_seq)
                rankings["vector"] = [p.chunk_id for p in hits]
                sims = {p.chunk_id: p.score for p in hits}
            weights["vector"] = 1.0
        if self.settings.place_weight > 0 and asks_for(question) == "place":
            # a where-question names who went, rarely where: among the candidates, those naming a place the question
            # does not come first
            cands = list(dict.fromkeys(cid for ids in rankings.values() for cid in ids[:n]))
            texts = self._fetch(cands)
            rankings["place"] = sorted((c for c in cands if c in texts),
                                       key=lambda c: not has_kind(texts[c][0], "place", question))
            weights["place"] = self.settings.place_weight
        names = [x for x in ("vector", "bm25", "window", "chapter", "alias", "place") if x in rankings]  # RRF tie order
        fused = rrf([rankings[x] for x in names], self.settings.rrf_k, [weights[x] for x in names])[: 2 * k]
        data = self._fetch([cid for cid, _ in fused])
        where = {x: {cid: r for r, cid in enumerate(ids)} for x, ids in rankings.items()}
        out, seen = [], set()
        for cid, score in fused:
            if cid not in data or data[cid][0] in seen:
                continue  # a chapter posted twice must not fill two of the k places
            seen.add(data[cid][0])
            ranks = {"fused": len(out), **{x: where[x][cid] for x in names if cid in where[x]}}
            out.append(Candidate(_passage(*data[cid], score), ranks, sims.get(cid, 0.0)))
        return out[:k]


def vector_search(settings: Settings, name: str, question: str, k: int | None = None,
                  library: Library | None = None) -> list[Passage]:
    """Top-k passages of novel `name` by cosine similarity to the question."""
    return Retriever(settings, name, library).vector(question, k or settings.k)

