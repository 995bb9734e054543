"""The library of novel stores on Chroma (embedded or server), with manifests and atomic swaps.

Each build writes a fresh collection `nv_<name-hash>_<build>`; the registry collection then points the
novel at it in one upsert. A reader only ever follows the registry, so an interrupted build (Ctrl-C,
kill -9, an exception) leaves the previous store intact; its leftover collection is swept later.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from rag.errors import StoreError
from rag.settings import Settings

REGISTRY = "shuwen_registry"
SCHEMA = 1  # the manifest format this code writes
WRITE_BATCH = 256


@dataclass
class Manifest:
    """What a store was built from and with: readers refuse a store built with another model."""

    name: str
    collection: str
    embedding_model: str
    embedding_dim: int
    embedding_precision: str
    chunk_size: int
    chunk_overlap: int
    chunker: str
    source_path: str
    source_sha256: str
    encoding: str
    chapters: int
    chunks: int
    chars: int
    built_at: float
    build_seconds: float
    schema: int = 1  # the manifest's own format; from_dict migrates older ones

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """A manifest as stored: older formats migrated (MIGRATIONS), keys of newer builds ignored with a note."""
        data = dict(data)
        version = int(data.get("schema", 0))
        if version > SCHEMA:
            raise StoreError(f"store {data.get('name')!r} was built by a newer 书问 (manifest schema {version}, this "
                             f"one reads up to {SCHEMA}); upgrade, or rebuild it with this version")
        for step in range(version, SCHEMA):
            data = MIGRATIONS[step](data)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def fingerprint(self) -> tuple:
        """Inputs that decide the store's content; equal fingerprints mean nothing to do."""
        return (self.embedding_model, self.chunk_size, self.chunk_overlap, self.chunker, self.source_sha256)


def _v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Manifests before `schema` existed (every store built until 2026-12): the same fields, now versioned."""
    return {**data, "schema": 1}


# MIGRATIONS[n] turns a schema-n manifest into schema n + 1; a new field gets its migration here, never a crash
MIGRATIONS = [_v0_to_v1]


def collection_prefix(name: str) -> str:
    """Chroma collection names are ASCII; novels are not, so collections are named by hash."""
    return "nv_" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]


def make_client(settings: Settings):
    """A Chroma client for the configured backend, with telemetry off (we are offline)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.store_backend == "http":
        try:
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                         settings=chroma_settings)
            client.heartbeat()
            return client
        except Exception as e:  # the client raises several unrelated types for "server down"
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                             f"({type(e).__name__}); start it with `chroma run --path chroma --port "
                             f"{settings.chroma_port}` or use store_backend=persistent") from None
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)


class Library:
    """All novel stores behind one Chroma client."""

    def __init__(self, settings: Settings, client: Any = None):
        self.settings = settings
        self.client = client or make_client(settings)
        self.registry = self.client.get_or_create_collection(REGISTRY, embedding_function=None)

    def manifests(self) -> list[Manifest]:
        """Every registered novel, by name."""
        got = self.registry.get(include=["documents"])
        return sorted((Manifest.from_dict(json.loads(d)) for d in got["documents"]), key=lambda m: m.name)

    def manifest(self, name: str) -> Manifest | None:
        got = self.registry.get(ids=[name], include=["documents"])
        return Manifest.from_dict(json.loads(got["documents"][0])) if got["ids"] else None

    def require(self, name: str, embedding_model: str | None = None) -> Manifest:
        """The manifest of `name`, or a StoreError that says how to build or rebuild it."""
        m = self.manifest(name)
        if m is None:
            known = ", ".join(x.name for x in self.manifests()) or "none"
            raise StoreError(f"no store named {name!r} (have: {known}); build it with "
                             f"`python gen_chroma.py --novel PATH --name {name}`")
        if embedding_model and embedding_model != m.embedding_model:
            raise StoreError(
                f"store {name!r} was built with embedding model {m.embedding_model!r} but the settings use "
                f"{embedding_model!r}; set embedding_model back, or rebuild with "
                f"`python gen_chroma.py --novel {m.source_path} --name {name} --rebuild`")
        return m

    def collection(self, manifest: Manifest):
        return self.client.get_collection(manifest.collection, embedding_function=None)

    def new_collection(self, name: str):
        cname = f"{collection_prefix(name)}_{time.time_ns():x}"
        return self.client.create_collection(cname, embedding_function=None,
                                             metadata={"hnsw:space": "cosine", "novel": name})

    def write(self, coll, ids: list[str], texts: list[str], metadatas: list[dict], vectors) -> None:
        """Add records to a (new, unpublished) collection in batches Chroma accepts."""
        for s in range(0, len(ids), WRITE_BATCH):
            coll.add(ids=ids[s : s + WRITE_BATCH], documents=texts[s : s + WRITE_BATCH],
                     metadatas=metadatas[s : s + WRITE_BATCH], embeddings=np.asarray(vectors[s : s + WRITE_BATCH]))

    def publish(self, manifest: Manifest) -> None:
        """Point `manifest.name` at its new collection (one atomic upsert), then drop the old one."""
        old = self.manifest(manifest.name)
        self.registry.upsert(ids=[manifest.name], documents=[json.dumps(asdict(manifest), ensure_ascii=False)],
                             embeddings=[[0.0]])
        if old and old.collection != manifest.collection:
            self._drop(old.collection)

    def delete(self, name: str) -> Manifest:
        m = self.require(name)
        self.registry.delete(ids=[name])
        self._drop(m.collection)
        return m

    def sweep(self, name: str) -> int:
        """Remove collections of `name` left behind by interrupted builds."""
        live = {m.collection for m in self.manifests()}
        prefix = collection_prefix(name) + "_"
        stale = [c for c in self._collection_names() if c.startswith(prefix) and c not in live]
        for c in stale:
            self._drop(c)
        return len(stale)

    def _collection_names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self.client.list_collections()]

    def _drop(self, cname: str) -> None:
        try:
            self.client.delete_collection(cname)
        except Exception:  # already gone; nothing to clean
            pass
