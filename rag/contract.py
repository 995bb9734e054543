"""What every answerer shares: the passage it cites, the answer it returns, the events it streams, the options a
request brings and the chat backend it talks to."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable


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


@dataclass
class Answer:
    """A finished answer with what it was built from."""

    question: str
    standalone: str
    answer: str = ""
    raw: str = ""  # the model's unrepaired output
    sources: list[Passage] = field(default_factory=list)  # the passages the evidence comes from (出处)
    evidence: list[Passage] = field(default_factory=list)  # the parts of the sources the model was shown
    pool: list[Passage] = field(default_factory=list)  # the fused candidates the evidence was chosen from, best first
    timings: dict = field(default_factory=dict)
    support: float | None = None  # P(the evidence answers the question), when support_check ran
    citations: list[int] = field(default_factory=list)  # chapters cited, decided from the evidence
    cited_chunk: str = ""  # chunk_id of the source the citation points at (the page marks it in 出处)
    not_yet: bool = False  # the spoiler guard held the answer back: the book tells it after `read_to`
    ungrounded: str = ""  # the model's answer, withheld because nothing it adds stands in the evidence
    changed: list[str] = field(default_factory=list)  # the stages that changed the model's text, in order

    def to_dict(self) -> dict:
        return {"answer": self.answer, "sources": [p.to_dict() for p in self.sources], "timings": self.timings,
                "support": self.support, "citations": self.citations, "cited_chunk": self.cited_chunk,
                "not_yet": self.not_yet, "ungrounded": self.ungrounded, "changed": self.changed}


@dataclass(frozen=True)
class Options:
    """What one request brings with its question; None = the settings' value. The process-wide Settings stay
    untouched, so the API and the page answer many readers with one object."""

    history: tuple[tuple[str, str], ...] = ()  # earlier (question, answer) turns, oldest first
    read_to: str | None = None  # the spoiler guard's last chapter read
    temperature: float | None = None
    max_tokens: int | None = None

    @classmethod
    def of(cls, history: list[tuple[str, str]] | None = None, **kw: Any) -> Options:
        return cls(tuple((str(q), str(a)) for q, a in history or ()), **kw)


@dataclass
class Event:
    """One step of an answer as a client sees it.

    token: text the reader may be shown now (it is never taken back when the answerer holds its answer until
    every stage has passed, the default release); withdrawn: text streamed earlier that `stage` changed (only
    with release = "stream"); final: the finished record (`record`: an Answer, or a character's Reply).
    """

    kind: Literal["token", "withdrawn", "final"]
    text: str = ""
    stage: str = ""
    record: Any = None


def texts(events: Iterable[Event]) -> Iterator[str]:
    """The text of the token events: what the reader is shown, piece by piece."""
    return (e.text for e in events if e.kind == "token")


def released(pieces: Iterable[str], stages: list[tuple[str, Callable[[str], str]]], record: Callable[[str, str], None],
             stream: bool, timings: dict, t0: float, changed: list[str]) -> Iterator[Event]:
    """The token and withdrawn events of a model's `pieces` put through named `stages`, as every answerer gives
    them. Held (`stream` False), the text is shown once, after the last stage; streamed, the pieces go out as they
    come, and text a stage changed other than by adding to it is withdrawn before the final text. `record(raw,
    text)` receives the model's text and the staged one before anything staged is shown; the names of the stages
    that changed the text are appended to `changed`. Timings: first_token_s, first_visible_s."""
    raw = ""
    for piece in pieces:
        timings.setdefault("first_token_s", round(time.perf_counter() - t0, 3))
        raw += piece
        if stream:
            timings.setdefault("first_visible_s", timings["first_token_s"])
            yield Event("token", piece)
    text, withdrawn = raw, ""
    for name, stage in stages:
        before, text = text, stage(text)
        if text != before:
            changed.append(name)
            withdrawn = withdrawn or name
    record(raw, text)
    if stream and not text.startswith(raw):
        yield Event("withdrawn", raw, stage=withdrawn)
        raw = ""
    if rest := text[len(raw):] if stream else text:
        timings.setdefault("first_visible_s", round(time.perf_counter() - t0, 3))
        yield Event("token", rest)


@runtime_checkable
class Backend(Protocol):
    """A chat model as the answerers use it (rag.generate.backends.ChatBackend; tests/fakes.py in the tests).

    `choice_probs` is optional: without it the support check does not run.
    """

    name: str
    model_id: str

    def stream(self, messages: list[dict], max_tokens: int | None = None, temperature: float | None = None,
               no_digits: bool = False, sampling: dict | None = None) -> Iterator[str]:
        """Text pieces as the model produces them (`sampling`: stop, presence/frequency/repeat penalties)."""
        ...

    def complete(self, messages: list[dict], max_tokens: int | None = None, temperature: float | None = None,
                 sampling: dict | None = None) -> str:
        """The whole reply."""
        ...
