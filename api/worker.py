"""One model, many readers: answers run one at a time on a single worker thread, in arrival order.

llama.cpp is not thread-safe, and on a 2-core machine two answers at once only halve each other's speed.
A bounded queue turns overload into a fast 429 with Retry-After instead of ever-growing waits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_DONE = object()
log = logging.getLogger("shuwen.api")


class ModelUnavailable(Exception):
    """The chat model failed to load; every answer fails with this (HTTP 503)."""


class QueueFull(Exception):
    """More answers are waiting than `max_queue`; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"{retry_after}")
        self.retry_after = retry_after


@dataclass
class Ticket:
    """One answer's place in the queue and the pieces it produces."""

    position: int  # answers ahead of this one when it was queued (0 = runs at once)
    queued_at: float = field(default_factory=time.perf_counter)
    started_at: float | None = None
    out: queue.Queue = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def pieces(self) -> Iterator[str]:
        """Text pieces until the work ends; the work's exception is raised here, in the reader's thread."""
        while True:
            item = self.out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    @property
    def queue_s(self) -> float:
        return round((self.started_at or time.perf_counter()) - self.queued_at, 3)


class ModelWorker:
    """Runs submitted generators one at a time on one thread; `warm` (e.g. loading the model) runs first."""

    def __init__(self, max_queue: int, warm: Callable[[], object] | None = None):
        self.max_queue = max_queue
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0  # queued + running
        self._seconds = 20.0  # running mean of an answer's duration, for Retry-After
        self.ready = threading.Event()
        self.warm_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(warm,), name="shuwen-model", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, work: Callable[[], Iterator[str]]) -> Ticket:
        """Queue `work` (a generator factory run on the worker thread); QueueFull when too many wait."""
        with self._lock:
            if self._pending > self.max_queue:
                raise QueueFull(max(1, int(self._seconds * (self._pending - self.max_queue))))
            ticket = Ticket(position=self._pending)
            self._pending += 1
        self._jobs.put((ticket, work))
        return ticket

    def _run(self, warm: Callable[[], object] | None) -> None:
        if warm is not None:
            try:
                warm()
            except Exception as e:  # noqa: BLE001 — reported by /readyz and to every answer
                log.error("the chat model failed to load: %s", e)
                self.warm_error = e
        self.ready.set()
        while True:
            ticket, work = self._jobs.get()
            ticket.started_at = time.perf_counter()
            try:
                if self.warm_error is not None:
                    raise ModelUnavailable() from self.warm_error
                if not ticket.cancelled.is_set():  # the reader left while waiting
                    gen = work()
                    try:
                        for piece in gen:
                            if ticket.cancelled.is_set():
                                break
                            ticket.out.put(piece)
                    finally:
                        gen.close()
                ticket.out.put(_DONE)
            except Exception as e:  # noqa: BLE001 — handed to the reader, who turns it into an HTTP error
                ticket.out.put(e)
            finally:
                took = time.perf_counter() - ticket.started_at
                with self._lock:
                    self._pending -= 1
                    self._seconds = 0.8 * self._seconds + 0.2 * took
