"""Answer a question from the book: standalone question → pool → rank evidence → prompt → stream → repair → ground, cite."""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from rag.bookcard import about_the_cast, book_card
from rag.cite import by_the_question, cite, source_of
from rag.contract import Answer, Backend, Event, Options, Passage, released, texts
from rag.errors import ShuWenError
from rag.generate.backends import DIGIT
from rag.generate.prompter import Prompter
from rag.generate.repair import complete_numbers, repair
from rag.kinds import asks_for, has_kind
from rag.rank import Book, as_evidence, rank_windows, select, sentences, windows
from rag.retrieve import Candidate, Retriever
from rag.settings import Settings
from rag.spoiler import NOT_YET, cutoff, parse_read_to

MAX_QUESTION_CHARS = 500
_FOLLOW_UP = re.compile(r"^(他|她|它|他们|她们|这|那|此|其|后来|然后|那么|还有|接着)|(他|她|它)(的|们|后来|怎么|为什么|是)")
_LEAK_MARKERS = ("【背景】", "【目标】", "【行动】", "原文片段：")
_PRONOUNS = re.compile(r"他们|她们|它们|后来|然后|那么|还有|接着|[他她它这那此其]")
_CITATION = re.compile(r"〔[^〕]*〕")
# questions whose answer is the model's own word, not a string of the book (父子 where the book says 先父)
_OWN_WORDS = re.compile(r"什么关系|何关系|为什么|为何")


def keeps_follow_up(rewritten: str, question: str) -> bool:
    """Whether a rewrite still asks the follow-up: most of its non-pronoun character pairs survive.

    The 1.5B model sometimes "rewrites" 那他后来为什么要离开？ into the previous question or answer.
    """
    rest = _PRONOUNS.sub("", question)
    pairs = {rest[i:i + 2] for i in range(len(rest) - 1)} - {""}
    pairs = {p for p in pairs if not any(c in "？?。，,！!" for c in p)}
    return not pairs or sum(p in rewritten for p in pairs) >= 0.5 * len(pairs)


def check_question(question: str) -> str:
    """A usable question, or one clear ShuWenError."""
    q = (question or "").strip()
    if not q:
        raise ShuWenError("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise ShuWenError(f"the question is {len(q)} characters long; ask in at most {MAX_QUESTION_CHARS}")
    return q


# the kinds the formula's bonus goes to: a 多少 question wants a window with a number, a 哪里 question one with a
# place name; the bonus for 谁 and 什么时候 too measured no gain (docs/benchmarks.md, session 15)
BONUS_KINDS = ("number", "place")


def compact_evidence(question: str, passages: list[Passage], embed_query, embed_passages, tokens, idf: dict,
                     budget: int, kind_bonus: float = 0.0, max_windows: int = 0, cover: float = 1.0) -> list[Passage]:
    """The sentence windows that best match the question within `budget` characters (and at most `max_windows`
    of them; 0 = as many as fit).

    A window scores the idf of the question words it contains plus its embedding similarity, minus a little
    for lower-ranked passages. Prompt size decides time-to-first-token on a CPU; four whole 600-character
    passages cost ≈ 22 s here. Each sentence is embedded once and a window's vector is the normalised sum
    of its sentences' vectors: embedding every overlapping window took longer than the prompt itself.

    Windows are taken greedily, and a question word counts `cover`ⁿ of its idf once n chosen windows hold it
    (1: every window scored once, as before). A question in two parts otherwise fills the budget with windows
    that all repeat its first part; 0.7 showed 4 more answers and lost 1 over 95 public items, +2 on 109 test
    items (docs/benchmarks.md).
    """
    sents = [sentences(p.text) for p in passages]
    flat = [(r, a, b) for r, spans in enumerate(sents) for a, b in spans]
    if not flat:
        return passages
    vecs = np.asarray(embed_passages([passages[r].text[a:b] for r, a, b in flat]), np.float64)
    q = np.asarray(embed_query(question), np.float64)
    first = np.cumsum([0] + [len(x) for x in sents])  # row of each passage's first sentence in `flat`
    words = sorted(set(tokens(question)))  # a fixed order: float sums, hence ties, do not vary per process
    kind = asks_for(question, BONUS_KINDS) if kind_bonus else None
    cands, base, holds = [], [], []
    for r, spans in enumerate(sents):
        text = passages[r].text
        for i, j in windows(spans):
            a, b = spans[i][0], spans[j][1]
            v = vecs[first[r] + i : first[r] + j + 1].sum(axis=0)
            sim = float(v @ q) / (float(np.linalg.norm(v)) or 1.0)
            piece = text[a:b]
            cands.append((r, a, b))
            base.append(5.0 * sim - 0.3 * r + (kind_bonus if has_kind(piece, kind, question) else 0.0))
            holds.append([w for w in words if w in piece])
    seen = dict.fromkeys(words, 0)

    def score(i: int) -> float:
        return base[i] + sum(idf.get(w, 0.0) * cover ** seen[w] for w in holds[i])

    # lazy greedy: a score only falls as windows are chosen, so a stale score bounds the fresh one
    heap = [(-score(i), i) for i in range(len(cands))]
    heapq.heapify(heap)
    chosen: dict[int, list[tuple[int, int]]] = {}
    used = count = 0
    while heap and not (max_windows and count >= max_windows):
        stale, i = heapq.heappop(heap)
        fresh = -score(i)
        if fresh > stale and heap and (fresh, i) > heap[0]:
            heapq.heappush(heap, (fresh, i))
            continue
        r, a, b = cands[i]
        if any(a < y and x < b for x, y in chosen.get(r, [])) or used + (b - a) > budget:
            continue
        chosen.setdefault(r, []).append((a, b))
        used += b - a
        count += 1
        for w in holds[i]:
            seen[w] += 1
    out = []
    for r in sorted(chosen):
        p = passages[r]
        text = "……".join(p.text[a:b] for a, b in sorted(chosen[r]))
        out.append(Passage(text, p.chapter, p.chapter_title, p.start, p.end, p.score, p.chunk_id))
    return out


class Asker:
    """Answers questions about one novel; holds the retriever, the prompt template and the chat backend."""

    def __init__(self, settings: Settings, name: str, retriever: Retriever | None = None, backend: Backend | None = None):
        self.settings = settings
        self.name = name
        self.retriever = retriever or Retriever(settings, name)
        self.prompter = Prompter(settings.prompt_template)
        self._backend = backend
        self._cuts: dict[str, int | None] = {}
        parse_read_to(settings.read_to)  # a bad setting fails here, not at the first question

    @property
    def max_seq(self) -> int | None:
        """The last readable chunk position under the settings' spoiler guard (None: the whole book)."""
        return self.cut(None)

    def cut(self, read_to: str | None) -> int | None:
        """The last readable chunk position for a `read_to` (None: the settings'; the result None: the whole
        book); parsed and cached per value."""
        read_to = self.settings.read_to if read_to is None else read_to
        spec = parse_read_to(read_to)
        if spec is None:
            return None
        if read_to not in self._cuts:
            self._cuts[read_to] = cutoff(spec, self.retriever.positions())
        return self._cuts[read_to]

    @property
    def backend(self):
        if self._backend is None:
            from rag.generate.backends import get_backend

            self._backend = get_backend(self.settings)
        return self._backend

    def standalone(self, question: str, history: list[tuple[str, str]]) -> str:
        """Rewrite a follow-up ("他后来怎么样了？") into a standalone question using the history."""
        if not history or not _FOLLOW_UP.search(question):
            return question
        rewritten = self.backend.complete(self.prompter.rewrite(history, question, self.name), max_tokens=60)
        rewritten = rewritten.strip().splitlines()[0].strip() if rewritten.strip() else ""
        rewritten = _CITATION.sub("", rewritten).strip()
        if (2 <= len(rewritten) <= MAX_QUESTION_CHARS and not _FOLLOW_UP.match(rewritten)
                and keeps_follow_up(rewritten, question)):
            return rewritten
        # the small model often echoes the follow-up or repeats the previous question: ask with the previous
        # question in front, so retrieval and the answer prompt still see who "他" is
        return f"{history[-1][0].strip()}{question}"

    def prepare(self, question: str, history: list[tuple[str, str]] | None = None,
                result: Answer | None = None, read_to: str | None = None) -> list[dict]:
        """Everything before the model answers: standalone question, sources, compact evidence, chat messages
        (`read_to`: the spoiler guard's last chapter read; None = the settings')."""
        res = result if result is not None else Answer(question, question)
        res.question = question
        res.standalone = self.standalone(question, history or [])
        t1 = time.perf_counter()
        max_seq = self.cut(read_to)
        pool = self.retriever.pool(res.standalone, self.pool_size, max_seq=max_seq)
        res.timings["retrieval_s"] = round(time.perf_counter() - t1, 3)
        res.pool = [c.passage for c in pool]
        card = self.card(res.standalone, read_to)  # a question about the whole book: who is in it, what its chapters are
        if card is not None and about_the_cast(res.standalone):
            # no passage says who the hero is, and a passage full of a minor name misleads: asked with the card
            # beside the formula's windows, the model named the boatman of the first page
            res.evidence, res.sources = [card], res.pool[: self.settings.k]
        else:
            budget = self.settings.context_chars - (len(card.text) if card else 0)
            res.evidence, res.sources = self.choose(res.standalone, pool, max(budget, 160))
            if card is not None:
                res.evidence.insert(0, card)
        return self.prompter.messages(self.name, res.standalone, self.in_prompt_order(res.evidence),
                                      self.settings.allow_model_knowledge)

    def in_prompt_order(self, evidence: list[Passage]) -> list[Passage]:
        """The evidence as the prompt shows it (`evidence_order`); the answer and the check show it alike, so
        llama.cpp evaluates it once."""
        return evidence[::-1] if self.settings.evidence_order == "best_last" else evidence

    @property
    def pool_size(self) -> int:
        """How many fused passages the evidence is chosen from: evidence_pool, or k when that is larger."""
        return max(self.settings.evidence_pool, self.settings.k, 1)

    def book(self) -> Book:
        """The book as the window ranker sees it: tokenizer, idf, character names."""
        if not hasattr(self, "_book"):
            lex = self.retriever.lexical()
            self._book = Book(lex.tokenizer().tokens, lex.idf(), frozenset(lex.names))
        return self._book

    def card(self, question: str, read_to: str | None = None) -> Passage | None:
        """The book card, when the question is about the whole book (up to the reader's chapter)."""
        if not self.settings.book_card:
            return None
        last_row = None
        max_seq = self.cut(read_to)
        if max_seq is not None:
            pos = self.retriever.positions()
            rows = sorted({ci for _, _, ci in pos})
            last_row = rows.index(max((ci for seq, _, ci in pos if seq <= max_seq), default=rows[0]))
        return book_card(self.retriever.lexical(), question, last_row)

    def choose(self, question: str, pool: list[Candidate],
               budget: int | None = None) -> tuple[list[Passage], list[Passage]]:
        """(evidence, sources): the best sentence windows of the pool within `budget` (context_chars) characters,
        best first, and the passages they come from."""
        s = self.settings
        budget = budget or s.context_chars
        if s.window_ranker == "formula":
            emb, lex = self.retriever.emb, self.retriever.lexical()
            evidence = compact_evidence(question, [c.passage for c in pool], lambda q: emb.embed_queries([q])[0],
                                        emb.embed_passages, lex.tokenizer().tokens, lex.idf(), budget, s.kind_bonus,
                                        s.evidence_windows, s.window_cover)
        else:
            emb = self.retriever.emb
            wins = rank_windows(question, pool, self.book(), lambda q: emb.embed_queries([q])[0], emb.embed_passages,
                                s.evidence_embed)
            evidence = as_evidence(select(wins, budget, s.evidence_windows), pool)
        by_id = {c.passage.chunk_id: c.passage for c in pool}
        return evidence, [by_id[p.chunk_id] for p in evidence if p.chunk_id in by_id]

    def compact(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The evidence the model is shown from given passages (ranked as given): their best windows."""
        return self.choose(question, [Candidate(p, {"fused": r}, 0.0) for r, p in enumerate(passages)])[0]

    def support(self, question: str, evidence: list[Passage]) -> float | None:
        """The model's P(the evidence answers the question), or None when the check cannot run."""
        if (not self.settings.support_check or self.settings.allow_model_knowledge or not self.prompter.refusal
                or not evidence):
            return None
        messages = self.prompter.check(self.name, question, self.in_prompt_order(evidence))
        choice_probs = getattr(self.backend, "choice_probs", None)  # a duck-typed backend may lack it
        if messages is None or choice_probs is None:
            return None
        yes = self.prompter.check_choices[0]
        return round(choice_probs(messages, self.prompter.check_choices)[yes], 4)

    def unsupported(self, res: Answer) -> bool:
        """Whether the model judges that the evidence does not answer the question (support_check)."""
        res.support = self.support(res.standalone, res.evidence)
        return res.support is not None and res.support < self.settings.support_threshold

    def told_later(self, res: Answer, read_to: str | None = None) -> bool:
        """Spoiler guard: whether the book answers the question after the reader's cut (one more support check)."""
        if self.cut(read_to) is None:
            return False
        later = self.retriever.pool(res.standalone, self.pool_size)
        if not any(c.passage.chunk_id not in {p.chunk_id for p in res.pool} for c in later):
            return False
        support = self.support(res.standalone, self.choose(res.standalone, later)[0])
        return support is not None and support >= self.settings.support_threshold

    def events(self, question: str, options: Options | None = None,
               result: Answer | None = None) -> Iterator[Event]:
        """The answer as events: tokens the reader may see, text withdrawn (release = "stream" only) and the final
        record. The model's text passes the named STAGES in order; `result` is the final record."""
        question = check_question(question)
        opts = options or Options()
        backend = self.backend  # loading the model is not part of answering
        t0 = time.perf_counter()
        res = result if result is not None else Answer(question, question)
        max_seq = self.cut(opts.read_to)
        messages = self.prepare(question, list(opts.history), res, opts.read_to)
        if not res.sources and max_seq is not None or self.unsupported(res):
            # the passages do not hold the answer: say so without generating; or, under the spoiler guard,
            # that the book tells it later (never what it tells)
            res.not_yet = max_seq is not None and self.told_later(res, opts.read_to)
            res.answer = res.raw = NOT_YET if res.not_yet else self.prompter.refusal
            res.timings["first_token_s"] = res.timings["first_visible_s"] = round(time.perf_counter() - t0, 3)
            yield Event("token", res.answer)
            res.timings["total_s"] = res.timings["first_token_s"]
            yield Event("final", record=res)
            return
        stream = self.settings.release == "stream"
        # the book writes 三千六百株; left free, the 1.5B model turns 一千一百一十一 into "10"
        evidence = "".join(p.text for p in res.evidence)
        no_digits = self.settings.book_numbers and not DIGIT.search(
            "".join([res.standalone, evidence] + [p.chapter_title for p in res.evidence]))
        temperature = self.settings.temperature if opts.temperature is None else opts.temperature
        pieces = backend.stream(messages, opts.max_tokens or self.settings.max_tokens, temperature, no_digits)
        stages = [(name, partial(stage, res=res, evidence=evidence, no_digits=no_digits))
                  for name, stage in self.stages()]

        def record(raw: str, text: str) -> None:
            res.raw, res.answer = raw, text

        yield from released(pieces, stages, record, stream, res.timings, t0, res.changed)
        res.timings["total_s"] = round(time.perf_counter() - t0, 3)
        yield Event("final", record=res)

    # --- the named stages the model's text passes; their names are eval's loss stages ----------------------
    def stages(self) -> list[tuple[str, Callable[[str, Answer, str, bool], str]]]:
        """(name, stage) in order: reading repairs what the model wrote, grounding withholds what the book does
        not say, citation puts the evidence's chapter at the end."""
        return [("reading", self._reading), ("grounding", self._grounding), ("citation", self._citation)]

    def _reading(self, text: str, res: Answer, evidence: str, no_digits: bool) -> str:
        cue = self.prompter.answer_cue
        # "问题？回答：…": the model echoed the end of the prompt; the answer is what follows the cue
        answer = repair(text.rsplit(cue, 1)[-1] if cue and cue in text else text, self.settings.answer_t2s)
        return complete_numbers(answer, evidence) if no_digits else answer

    def _grounding(self, text: str, res: Answer, evidence: str, no_digits: bool) -> str:
        refusal = self.prompter.refusal
        if any(m in text for m in _LEAK_MARKERS):  # never echo the instructions back
            return refusal or "抱歉，无法回答这个问题。"
        if refusal and self.prompter.borrowed(text, res.standalone + evidence):
            # a worked example's words, not the book's (an unanswerable question answered 良田三百亩、家丁四十二人)
            res.ungrounded = text
            return refusal
        text = text or refusal
        if (self.settings.grounded_only and refusal and text != refusal
                and not self.settings.allow_model_knowledge and not _OWN_WORDS.search(res.standalone)):
            if source_of(text, res.standalone, res.evidence) is None:
                # nothing the answer adds to the question stands in the passages: the model's memory, not the book
                # (session 8, three books: 1 of 18 such answers was right; docs/benchmarks.md)
                res.ungrounded = text
                return refusal
            if (self.settings.grounded_window
                    and not by_the_question(text, res.standalone, res.evidence, self.retriever.lexical().aliases)):
                # its words stand only in a window about something else (赤兔马死的时候有五十八岁, from 关公's age);
                # re-scored on 21 stored runs: 1 of 368 right answers withheld, 33 of 86 answers to unanswerables
                res.ungrounded = text
                return refusal
        return text

    def _citation(self, text: str, res: Answer, evidence: str, no_digits: bool) -> str:
        if not self.settings.cite_answers or text == self.prompter.refusal:
            return text
        # the chapter comes from the evidence, never the model's memory
        text, src = cite(text, res.standalone, res.evidence)
        if src is not None:
            res.citations, res.cited_chunk = [src.chapter], src.chunk_id
        return text

    def stream(self, question: str, history: list[tuple[str, str]] | None = None,
               result: Answer | None = None) -> Iterator[str]:
        """The text the reader is shown, piece by piece; `result` is filled in when the stream ends."""
        yield from texts(self.events(question, Options.of(history), result))

    def ask(self, question: str, history: list[tuple[str, str]] | None = None,
            options: Options | None = None) -> Answer:
        """The finished answer (`options` wins over `history` when both are given)."""
        res = Answer(question, question)
        for _ in self.events(question, options or Options.of(history), res):
            pass
        return res
