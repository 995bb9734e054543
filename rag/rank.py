"""Rank the evidence the model reads: sentence windows of the top fused passages, scored on book-independent features.

The passage that answers is often among the top 20 fused candidates but not the top 5 (hit@20 0.90 vs hit@5 0.75
on our 西游记 test split), so this ranker reads a deeper pool. Each window is scored by a logistic regression over
features that name no book and no question set (weights: rank_weights.json, fitted by bench/fit_ranker.py on the
public items, leave-one-book-out checked). It is opt-in (`window_ranker = "learned"`): its gain on the public folds
did not hold on the test splits, where the formula in rag/answer.py over the top 5 did as well (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from rag.kinds import asks_for, has_kind
from rag.retrieve import Candidate, Passage

WEIGHTS = Path(__file__).with_name("rank_weights.json")
_SENTENCE = re.compile(r"[^。！？!?…\n]+[。！？!?…]*[”’」』]?")

FEATURES = ("win_sim", "chunk_sim", "idf_cover", "chunk_idf_cover", "names", "kind", "fused", "vector", "bm25",
            "window", "length", "first", "idf_sum")
# each also enters as its distance to the question's best window: a 0.9 similarity is high for one question, low
# for another
RELATIVE = ("win_sim", "idf_cover", "idf_sum", "chunk_sim", "chunk_idf_cover")
COARSE = tuple(f for f in FEATURES if f != "win_sim")  # before any sentence is embedded


def sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of `text`."""
    return [m.span() for m in _SENTENCE.finditer(text)]


def windows(spans: list[tuple[int, int]], max_chars: int = 160, max_sentences: int = 3) -> list[tuple[int, int]]:
    """(first, last) sentence indices of runs of 1 to `max_sentences` sentences, at most ~max_chars long."""
    out = []
    for i, (a, _) in enumerate(spans):
        for j in range(i, min(i + max_sentences, len(spans))):
            if j > i and spans[j][1] - a > max_chars:
                break
            out.append((i, j))
    return out


@dataclass
class Window:
    """A run of sentences of one pooled passage, with its features and score."""

    row: int  # which candidate
    start: int  # [start, end) in the candidate's text
    end: int
    features: dict[str, float]
    score: float = 0.0


@dataclass
class Book:
    """What the ranker needs of the book: its tokenizer, idf and character names."""

    tokens: Callable[[str], list[str]]
    idf: dict[str, float]
    names: frozenset[str] = frozenset()


@cache
def load_weights(path: str = str(WEIGHTS)) -> dict:
    """The fitted models (coarse, full): feature names, means and scales, coefficients and intercept (JSON data)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for stage, names in (("coarse", COARSE), ("full", FEATURES)):
        if list(data[stage]["features"]) != list(names):
            raise ValueError(f"{path}: the {stage} model was fitted on {data[stage]['features']}, not {list(names)}")
    return data


def design(wins: list[Window], names: tuple[str, ...]) -> np.ndarray:
    """The model's input rows: the features, then each RELATIVE one minus its best value over `wins`."""
    x = np.array([[w.features[f] for f in names] for w in wins], np.float64).reshape(len(wins), len(names))
    rel = [x[:, names.index(f)] - x[:, names.index(f)].max() for f in RELATIVE if f in names] if len(wins) else []
    return np.column_stack([x, *rel]) if rel else x


def score(wins: list[Window], model: dict) -> None:
    """Set each window's score: a fitted logistic regression's log-odds that it holds the answer."""
    if not wins:
        return
    z = (design(wins, tuple(model["features"])) - np.asarray(model["mean"])) / np.asarray(model["scale"])
    for win, v in zip(wins, z @ np.asarray(model["coef"]) + float(model["intercept"])):
        win.score = float(v)


def _rank_feature(ranks: dict[str, int], name: str, missing: int = 60) -> float:
    return 1.0 / math.sqrt(1.0 + ranks.get(name, missing))


def window_features(question: str, pool: list[Candidate], book: Book) -> list[Window]:
    """Every window of every pooled passage with its text and rank features (win_sim is set by `add_similarity`)."""
    q_tokens = set(book.tokens(question))
    weight = {w: book.idf.get(w, 0.0) for w in q_tokens}
    total = sum(weight.values()) or 1.0
    q_names = [w for w in q_tokens if len(w) >= 2 and w in book.names]
    kind = asks_for(question)
    out: list[Window] = []
    for r, c in enumerate(pool):
        text = c.passage.text
        sp = sentences(text)
        chunk_cover = sum(v for w, v in weight.items() if w in text) / total
        for i, j in windows(sp):
            a, b = sp[i][0], sp[j][1]
            piece = text[a:b]
            f = {
                "win_sim": 0.0,
                "chunk_sim": c.sim,
                "idf_cover": sum(v for w, v in weight.items() if w in piece) / total,
                "idf_sum": sum(v for w, v in weight.items() if w in piece),
                "chunk_idf_cover": chunk_cover,
                "names": (sum(n in piece for n in q_names) / len(q_names)) if q_names else 0.0,
                "kind": float(has_kind(piece, kind, question, book.names)),
                "fused": _rank_feature(c.ranks, "fused"),
                "vector": _rank_feature(c.ranks, "vector"),
                "bm25": _rank_feature(c.ranks, "bm25"),
                "window": _rank_feature(c.ranks, "window"),
                "length": (b - a) / 160.0,
                "first": float(i == 0),
            }
            out.append(Window(r, a, b, f))
    return out


def add_similarity(question: str, pool: list[Candidate], wins: list[Window], embed_query: Callable[[str], np.ndarray],
                   embed_passages: Callable[[list[str]], np.ndarray]) -> None:
    """Set win_sim of `wins`: cosine of the question to the normalised sum of the window's sentence vectors.

    Each sentence is embedded once; embedding every overlapping window took longer than the prompt itself.
    """
    rows = sorted({w.row for w in wins})
    spans = {r: sentences(pool[r].passage.text) for r in rows}
    flat = [(r, a, b) for r in rows for a, b in spans[r]]
    if not flat:
        return
    vecs = np.asarray(embed_passages([pool[r].passage.text[a:b] for r, a, b in flat]), np.float64)
    at = {(r, a): k for k, (r, a, _) in enumerate(flat)}
    ends = {(r, b): k for k, (r, _, b) in enumerate(flat)}
    q = np.asarray(embed_query(question), np.float64)
    for w in wins:
        first, last = at.get((w.row, w.start)), ends.get((w.row, w.end))
        if first is None or last is None:
            continue
        v = vecs[first : last + 1].sum(axis=0)
        w.features["win_sim"] = float(v @ q) / (float(np.linalg.norm(v)) or 1.0)


def rank_windows(question: str, pool: list[Candidate], book: Book, embed_query: Callable[[str], np.ndarray] | None,
                 embed_passages: Callable[[list[str]], np.ndarray] | None, embed_passages_n: int = 8,
                 weights: dict | None = None) -> list[Window]:
    """The windows of the pool's best passages, scored: a coarse model (no embedding) keeps the `embed_passages_n`
    passages with the best window, their sentences are embedded, and the full model scores their windows.

    Embedding the sentences of 20 passages took 2.2 s here against 0.65 s for 5; the coarse cut to 8 kept the
    shown-evidence hit of all 20 in leave-one-book-out (docs/benchmarks.md).
    """
    w = weights or load_weights()
    wins = window_features(question, pool, book)
    score(wins, w["coarse"])
    best: dict[int, float] = {}
    for win in wins:
        best[win.row] = max(best.get(win.row, -math.inf), win.score)
    keep = set(sorted(best, key=lambda r: (-best[r], r))[:embed_passages_n])
    kept = [win for win in wins if win.row in keep]
    if embed_query is not None and embed_passages is not None:
        add_similarity(question, pool, kept, embed_query, embed_passages)
    score(kept, w["full"])
    return kept


def select(wins: list[Window], budget: int, max_windows: int = 0, per_passage: int = 2) -> list[Window]:
    """The best windows, best first, that do not overlap and fit `budget` characters: at most `max_windows` (0: no
    limit) and `per_passage` from one passage (two measured better than one or any: docs/benchmarks.md)."""
    chosen: list[Window] = []
    used = 0
    per: dict[int, int] = {}
    for win in sorted(wins, key=lambda w: -w.score):
        if max_windows and len(chosen) >= max_windows:
            break
        if (per.get(win.row, 0) >= per_passage or used + (win.end - win.start) > budget
                or any(c.row == win.row and win.start < c.end and c.start < win.end for c in chosen)):
            continue
        chosen.append(win)
        used += win.end - win.start
        per[win.row] = per.get(win.row, 0) + 1
    return chosen


def as_evidence(chosen: list[Window], pool: list[Candidate], order: str = "score") -> list[Passage]:
    """One evidence passage per source passage, its windows joined by ……; sources ordered by their best window
    (`score`) or by retrieval rank (`rank`)."""
    rows: list[int] = []
    for win in chosen:
        if win.row not in rows:
            rows.append(win.row)
    if order == "rank":
        rows.sort()
    out = []
    for r in rows:
        p = pool[r].passage
        spans = sorted((w.start, w.end) for w in chosen if w.row == r)
        out.append(Passage("……".join(p.text[a:b] for a, b in spans), p.chapter, p.chapter_title, p.start, p.end,
                           p.score, p.chunk_id))
    return out
