"""Index a novel: load → chunk → embed only what is new → write a fresh collection → publish."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.index.embeddings import get_embeddings
from rag.index.store import Library, Manifest, collection_prefix
from rag.ingest import CHUNKER_VERSION, Novel, load_novel, novel_name
from rag.names import check_name
from rag.settings import Settings

ProgressFn = Callable[[int, int], None]  # (done, total)


@dataclass
class BuildResult:
    """What a build did."""

    manifest: Manifest
    embedded: int
    reused: int
    removed: int
    up_to_date: bool


def load_for(settings: Settings, path: Path, name: str | None = None) -> Novel:
    """Load a novel with the chunker settings every entry point shares; its name is checked first."""
    name = check_name(name) if name else check_name(novel_name(Path(path)))
    return load_novel(path, name, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
                      max_mb=settings.max_file_mb, t2s=settings.t2s, section_chars=settings.section_chars)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tqdm_progress(total: int) -> tuple[ProgressFn, Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, dynamic_ncols=True)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


@contextlib.contextmanager
def build_lock(settings: Settings, name: str) -> Iterator[None]:
    """Hold an exclusive per-novel lock: a second build of the same store waits instead of sweeping ours.

    A build sweeps collections of its novel that no manifest points at (left by killed builds); without the
    lock, that sweep deletes the collection a concurrent build is still writing. The lock file lives beside
    a persistent store (or under cache_dir for a Chroma server, which covers builds from this machine) and
    the kernel releases it when a build dies.
    """
    path = settings.beside_store / "locks" / f"{collection_prefix(name)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[build] another build of {name!r} is running; waiting for it …", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_index(settings: Settings, path: Path, name: str | None = None, *, rebuild: bool = False,
                progress: ProgressFn | None | bool = True, library: Library | None = None) -> BuildResult:
    """Build or update the store for one novel; the previous store stays live until the new one is complete."""
    t0 = time.time()
    novel = load_for(settings, path, name)
    with build_lock(settings, novel.name):
        return _build(settings, path, novel, rebuild, progress, library, t0)


def _build(settings: Settings, path: Path, novel: Novel, rebuild: bool, progress: ProgressFn | None | bool,
           library: Library | None, t0: float) -> BuildResult:
    lib = library or Library(settings)
    old = lib.manifest(novel.name)
    emb = get_embeddings(settings)
    manifest = Manifest(
        name=novel.name, collection="", embedding_model=emb.model_id, embedding_dim=emb.dim,
        embedding_precision=getattr(emb, "precision", settings.embedding_precision), chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap, chunker=CHUNKER_VERSION + ("+t2s" if settings.t2s else ""),
        source_path=str(Path(path).resolve()), source_sha256=_sha256(path), encoding=novel.encoding,
        chapters=len(novel.chapters), chunks=len(novel.chunks), chars=novel.summary()["chars"],
        built_at=time.time(), build_seconds=0.0,
    )
    if old and not rebuild and old.fingerprint() == manifest.fingerprint():
        return BuildResult(old, 0, 0, 0, True)
    lib.sweep(novel.name)

    # reuse vectors of unchanged chunks (same text ⇒ same id) from the live collection
    reuse: dict[str, np.ndarray] = {}
    ids = [c.chunk_id for c in novel.chunks]
    if old and not rebuild and old.embedding_model == emb.model_id:
        got = lib.collection(old).get(ids=ids, include=["embeddings"])
        reuse = {i: np.asarray(e, np.float32) for i, e in zip(got["ids"], got["embeddings"])}
    todo = [c for c in novel.chunks if c.chunk_id not in reuse]
    removed = old.chunks - (len(novel.chunks) - len(todo)) if old and not rebuild else 0

    update, close = (None, lambda: None)
    if progress is True and todo:
        update, close = _tqdm_progress(len({c.text for c in todo}))
    elif callable(progress):
        update = progress
    vectors = dict(reuse)
    # web novels repost chapters word for word: a text is embedded once, its copies share the vector
    same: dict[str, list[str]] = {}
    for c in todo:
        same.setdefault(c.text, []).append(c.chunk_id)
    try:
        # similar lengths together: less padding per batch
        order = sorted(same, key=len)
        step = max(32, settings.embedding_batch_size * 4)
        for s in range(0, len(order), step):
            batch = order[s : s + step]
            for text, v in zip(batch, emb.embed_passages(batch)):
                for cid in same[text]:
                    vectors[cid] = v
            if update:
                update(min(s + step, len(order)), len(order))
    finally:
        close()

    coll = lib.new_collection(novel.name)
    lib.write(coll, ids, [c.text for c in novel.chunks], [c.metadata() for c in novel.chunks],
              np.stack([vectors[i] for i in ids]))
    manifest.collection = coll.name
    # the BM25 index too, before publishing: on a 5M-character novel building it took 49 s, which the first
    # reader's first question used to pay
    from rag.index.lexical import lexical_index

    lexical_index(settings, coll.name, coll)
    manifest.build_seconds = round(time.time() - t0, 2)
    lib.publish(manifest)
    return BuildResult(manifest, len(todo), len(reuse), max(0, removed), False)
