"""Build jobs: a novel uploaded over HTTP is indexed on a background thread, one build at a time.

The build is `rag.index.build.build_index`, the path gen_chroma.py and the page take: a new collection
published in one step, so a failed build leaves the previous store intact and answers keep flowing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import ShuWenError

MAX_KEPT = 200  # finished jobs remembered per process


@dataclass
class Job:
    """One build's state, as GET /v1/jobs/{id} reports it."""

    id: str
    name: str
    status: str = "queued"  # queued | running | succeeded | failed
    done: int = 0
    total: int = 0
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: dict | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        elapsed = (self.finished_at or time.time()) - self.started_at if self.started_at else 0.0
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = (self.total - self.done) / rate if rate and self.status == "running" else None
        return {"id": self.id, "object": "job", "novel": self.name, "status": self.status,
                "progress": {"done": self.done, "total": self.total,
                             "fraction": round(self.done / self.total, 4) if self.total else 0.0},
                "chunks_per_s": round(rate, 2), "eta_s": None if eta is None else round(eta, 1),
                "elapsed_s": round(elapsed, 1), "created_at": int(self.created_at),
                "result": self.result, "error": self.error}


class Jobs:
    """Queued builds run one after another on a single daemon thread."""

    def __init__(self, build: Callable[[Path, str, bool, Callable[[int, int], None]], dict]):
        self._build = build
        self._jobs: dict[str, Job] = {}
        self._queue: list[tuple[Job, Path, bool]] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._run, name="shuwen-builds", daemon=True).start()

    def submit(self, path: Path, name: str, rebuild: bool = False) -> Job:
        job = Job(id="job-" + uuid.uuid4().hex[:16], name=name)
        with self._cv:
            self._jobs[job.id] = job
            self._queue.append((job, path, rebuild))
            self._forget_old()
            self._cv.notify()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def active(self, name: str) -> bool:
        """Whether a build of `name` is queued or running."""
        return any(j.name == name and j.status in {"queued", "running"} for j in list(self._jobs.values()))

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.status in {"succeeded", "failed"}]
        for j in sorted(finished, key=lambda j: j.created_at)[: max(0, len(finished) - MAX_KEPT)]:
            del self._jobs[j.id]

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue:
                    self._cv.wait()
                job, path, rebuild = self._queue.pop(0)
            job.status, job.started_at = "running", time.time()

            def progress(done: int, total: int, job: Job = job) -> None:
                job.done, job.total = done, total

            try:
                job.result = self._build(path, job.name, rebuild, progress)
                job.status = "succeeded"
            except ShuWenError as e:
                job.status, job.error = "failed", str(e)
            except Exception as e:  # noqa: BLE001 — a job reports its failure; the server keeps running
                job.status, job.error = "failed", f"the build failed ({type(e).__name__})"
            finally:
                job.finished_at = time.time()
