"""Lexical retrieval: BM25 over jieba tokens, with a user dictionary discovered from the novel itself.

jieba's dictionary is modern Chinese; names in a Ming novel (驼罗庄, 隐雾山, 赤铜刀) get cut into single
characters. Frequent n-grams with high cohesion (PMI) and free boundaries (left/right entropy) are
added as words for that novel only.
"""

from __future__ import annotations

import collections
import logging
import math
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from rag.aliases import alias_groups, expand
from rag.ingest.people import candidate_names, mentions

FORMAT = "lexical-5"  # bump when the saved fields, or how they are read from the book (alias groups), change
_HAN = re.compile(r"[\u4e00-\u9fff]+")
# question words and glue that carry no content in a reader's question
STOPWORDS = frozenset(
    "的 了 是 在 什么 哪 哪里 哪儿 哪个 哪位 哪座 谁 多少 几 几个 叫 叫做 名字 一共 当初 后来 那个 这个 那位 时 时候 为了 用 "
    "被 把 给 有 和 与 及 他 她 它 他们 们 说 自己 吗 呢 么 怎么 怎样 如何 为什么 为何 是什么 是谁 之 其 而 又 也 就 都 "
    "？ ? ， , 。 “ ” ‘ ’ 、 ！ ! ： : ； ;".split()
)


def discover_words(text: str, max_len: int = 5, min_freq: int = 5, min_pmi: float = 3.0,
                   min_entropy: float = 1.0) -> dict[str, int]:
    """New-word discovery: {word: count} for cohesive, freely-bounded n-grams of `text`."""
    segs = _HAN.findall(text)
    cnt: collections.Counter[str] = collections.Counter()
    for seg in segs:
        for n in range(1, max_len + 2):
            for i in range(len(seg) - n + 1):
                cnt[seg[i : i + n]] += 1
    total = sum(v for k, v in cnt.items() if len(k) == 1) or 1
    left: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    right: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for seg in segs:
        for n in range(2, max_len + 1):
            for i in range(len(seg) - n + 1):
                w = seg[i : i + n]
                if cnt[w] >= min_freq:
                    left[w][seg[i - 1] if i else "^"] += 1
                    right[w][seg[i + n] if i + n < len(seg) else "$"] += 1

    def entropy(c: collections.Counter) -> float:
        s = sum(c.values())
        return -sum(v / s * math.log(v / s) for v in c.values())

    words = {}
    for w in left:
        pmi = min(math.log(cnt[w] * total / (cnt[w[:k]] * cnt[w[k:]])) for k in range(1, len(w)))
        if pmi > min_pmi and min(entropy(left[w]), entropy(right[w])) > min_entropy:
            words[w] = cnt[w]
    return words


class NovelTokenizer:
    """jieba with the novel's own words added (a private jieba instance per novel)."""

    def __init__(self, words: dict[str, int] | None = None):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self.jieba = jieba.Tokenizer()
        for w, c in (words or {}).items():
            self.jieba.add_word(w, freq=max(10 * c, 50))

    def tokens(self, text: str) -> list[str]:
        """Content tokens of `text` (stopwords and whitespace removed)."""
        return [w for w in self.jieba.lcut(text) if w.strip() and w not in STOPWORDS]


@dataclass
class BM25Index:
    """Okapi BM25 over a fixed set of documents, as one sparse matrix."""

    vocab: dict[str, int]
    matrix: sparse.csc_matrix  # docs × terms, BM25-weighted term frequencies
    idf: np.ndarray

    @classmethod
    def build(cls, docs_tokens: list[list[str]], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        lengths = np.array([len(t) for t in docs_tokens], np.float64)
        avg = lengths.mean() if len(lengths) else 1.0
        for i, toks in enumerate(docs_tokens):
            for w, f in collections.Counter(toks).items():
                j = vocab.setdefault(w, len(vocab))
                rows.append(i)
                cols.append(j)
                vals.append(f * (k1 + 1) / (f + k1 * (1 - b + b * lengths[i] / avg)))
        m = sparse.csc_matrix((vals, (rows, cols)), shape=(len(docs_tokens), len(vocab)))
        df = np.diff(m.indptr)
        n = len(docs_tokens)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        return cls(vocab, m, idf)

    def scores(self, query_tokens: list[str] | dict[str, float]) -> np.ndarray:
        """BM25 score of every document for the query (a dict gives each token a weight)."""
        weights = query_tokens if isinstance(query_tokens, dict) else dict.fromkeys(query_tokens, 1.0)
        q = np.zeros(len(self.vocab))
        for w in sorted(weights):  # fixed order: float sums, hence ties, do not vary per process
            if (j := self.vocab.get(w)) is not None:
                q[j] = self.idf[j] * weights[w]
        return self.matrix @ q


@dataclass
class LexicalIndex:
    """Everything lexical search needs for one store: tokenizer words, chunk and window BM25."""

    words: dict[str, int]
    chunk_ids: list[str]
    chunks: BM25Index
    windows: BM25Index  # each chunk with its neighbours in the same chapter: names said just before count
    chapter_of: np.ndarray  # row of each chunk's chapter in `chapters`
    chapters: BM25Index  # whole chapters: where the story is, when the answer sentence never names it
    aliases: list[list[str]] = field(default_factory=list)  # the book's alias groups (rag/aliases.py)
    people: dict[str, list[int]] = field(default_factory=dict)  # character → mentions in each chapter row
    titles: list[str] = field(default_factory=list)  # each chapter row's title

    @property
    def names(self) -> list[str]:
        """The book's character names, most mentioned first."""
        return list(self.people)

    @classmethod
    def build(cls, ids: list[str], texts: list[str], chapters: list[int], seqs: list[int],
              titles: list[str] | None = None) -> LexicalIndex:
        order = sorted(range(len(ids)), key=lambda i: seqs[i])
        words = discover_words("\n".join(texts[i] for i in order))
        tok = NovelTokenizer(words)
        toks = [tok.tokens(t) for t in texts]
        pos = {seqs[i]: i for i in range(len(ids))}
        win = []
        for i in range(len(ids)):
            parts = list(toks[i])
            for d in (-1, 1):
                j = pos.get(seqs[i] + d)
                if j is not None and chapters[j] == chapters[i]:
                    parts += toks[j]
            win.append(parts)
        rows = {c: n for n, c in enumerate(sorted(set(chapters)))}
        chapter_of = np.array([rows[c] for c in chapters], np.int64)
        chap_docs: list[list[str]] = [[] for _ in rows]
        for i in order:
            chap_docs[chapter_of[i]] += toks[i]
        book = "\n".join(texts[i] for i in order)
        aliases = alias_groups(book)
        chap_texts = [""] * len(rows)
        chap_titles = [""] * len(rows)
        for i in order:
            chap_texts[chapter_of[i]] += texts[i]
            if titles:
                chap_titles[chapter_of[i]] = titles[i]
        names = candidate_names(book, words) | {n for g in aliases for n in g}
        return cls(words, ids, BM25Index.build(toks), BM25Index.build(win), chapter_of, BM25Index.build(chap_docs),
                   aliases, mentions(chap_texts, names), chap_titles)

    def tokenizer(self) -> NovelTokenizer:
        if not hasattr(self, "_tok"):
            self._tok = NovelTokenizer(self.words)
        return self._tok

    def idf(self) -> dict[str, float]:
        """Inverse document frequency of every chunk-level term."""
        if not hasattr(self, "_idf"):
            self._idf = {w: float(self.chunks.idf[j]) for w, j in self.chunks.vocab.items()}
        return self._idf

    def query(self, question: str, alias_weight: float = 0.0) -> dict[str, float]:
        """The question's tokens, each weighted 1, plus the other names of the characters it names."""
        return expand(self.tokenizer().tokens(question), self.aliases, alias_weight)

    def chapter_scores(self, question: str, alias_weight: float = 0.0) -> np.ndarray:
        """BM25 score of each chunk's whole chapter for the question."""
        return self.chapters.scores(self.query(question, alias_weight))[self.chapter_of]

    def rank(self, question: str, which: str = "chunks", n: int = 50, alias_weight: float = 0.0) -> list[int]:
        """Indices of the top-n documents (positive scores only)."""
        idx = self.chunks if which == "chunks" else self.windows
        s = idx.scores(self.query(question, alias_weight))
        top = np.argsort(-s, kind="stable")[:n]
        return [int(i) for i in top if s[i] > 0]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump((FORMAT, self.words, self.chunk_ids, self.chunks, self.windows, self.chapter_of,
                         self.chapters, self.aliases, self.people, self.titles), f)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex | None:
        """The saved index, or None when it was written by an older version (rebuild it)."""
        with open(path, "rb") as f:
            data = pickle.load(f)
        if not data or data[0] != FORMAT:
            return None
        return cls(*data[1:])
