"""What every data step shares: chunk sources, chat-backend flags, JSONL files and the resumable progress file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import BadInputError
from rag.ingest.chunking import Chunk
from rag.settings import Settings, add_settings_args, choices, settings_from_args

if TYPE_CHECKING:
    from rag.ingest import Novel


def parse_chapters(spec: str | None) -> set[int] | None:
    """'1-3,7' → {1, 2, 3, 7}; None/'' → every chapter."""
    if not spec:
        return None
    out: set[int] = set()
    try:
        for part in spec.split(","):
            lo, _, hi = part.strip().partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise BadInputError(f"--chapters: cannot read {spec!r} (use e.g. 1-3,7)") from None
    return out


def store_chunks(settings: Settings, name: str) -> list[Chunk]:
    """Every chunk of a built store, in reading order (the texts and metadata the retriever sees)."""
    from rag.index.store import Library

    lib = Library(settings)
    got = lib.collection(lib.require(name)).get(include=["documents", "metadatas"])
    fields = set(Chunk.__dataclass_fields__) - {"text"}
    chunks = [Chunk(text=doc, **{k: v for k, v in meta.items() if k in fields})
              for doc, meta in zip(got["documents"], got["metadatas"])]
    return sorted(chunks, key=lambda c: (c.chapter_index, c.seq))


def select_chunks(chunks: list[Chunk], chapters: set[int] | None = None, limit: int = 0) -> list[Chunk]:
    """Chunks of the chosen chapters, the first `limit` of them (0 = all)."""
    out = [c for c in chunks if chapters is None or c.chapter in chapters]
    if not out:
        raise BadInputError("no chunks in the chosen chapters")
    return out[:limit] if limit > 0 else out


def load_chunks(settings: Settings, name: str | None, novel: Path | None) -> tuple[str, list[Chunk]]:
    """(novel name, chunks) from a store (`name`) or straight from a novel file."""
    if novel:
        from rag.index.build import load_for

        n = load_for(settings, novel, name)
        return n.name, n.chunks
    name = name or settings.default_novel
    return name, store_chunks(settings, name)


def load_book(settings: Settings, name: str | None, novel: Path | None) -> Novel:
    """The whole loaded novel (text and chunks) from a file, or from the source file a store was built from."""
    from rag.index.build import load_for

    if novel:
        return load_for(settings, novel, name)
    from rag.index.store import Library

    m = Library(settings).require(name or settings.default_novel)
    if not Path(m.source_path).is_file():
        raise BadInputError(f"{m.name} was built from {m.source_path}, which is gone; pass --novel FILE")
    return load_for(settings, Path(m.source_path), m.name)


def add_source_args(p: argparse.ArgumentParser) -> None:
    """--name/--novel/--chapters/--limit: which chunks to read."""
    p.add_argument("--name", help="store (novel) name to read chunks from; default: the settings' default_novel")
    p.add_argument("--novel", type=Path, help="read and chunk this novel file instead of a store")
    p.add_argument("--chapters", help="chapters to use, e.g. 1-5 or 1,3,8 (default: all)")
    p.add_argument("--limit", type=int, default=0, help="use at most this many chunks (0 = all)")


def add_backend_args(p: argparse.ArgumentParser, temperature: float, max_tokens: int) -> None:
    """Chat-backend flags; the default is the bundled model through llama.cpp."""
    p.add_argument("--backend", dest="chat_backend", choices=choices("chat_backend"),
                   help="chat backend (default: setting chat_backend, llamacpp with the bundled model)")
    p.add_argument("--model", dest="chat_model", help="GGUF path, HF id/path, or an OpenAI-compatible server's model")
    p.add_argument("--openai-base-url", help="teacher server URL, e.g. http://127.0.0.1:23333/v1 (LMDeploy/vLLM)")
    p.add_argument("--temperature", type=float, default=temperature, help=f"sampling temperature (default {temperature})")
    p.add_argument("--max-tokens", type=int, default=max_tokens, help=f"tokens per reply (default {max_tokens})")
    add_settings_args(p)


def settings_for(args: argparse.Namespace) -> Settings:
    return settings_from_args(args)


def teacher(settings: Settings, args: argparse.Namespace) -> Callable[[list[dict]], str]:
    """The configured chat backend as `messages → reply`, with the step's max_tokens and temperature."""
    from rag.generate.backends import get_backend

    backend = get_backend(settings)
    return lambda messages: backend.complete(messages, args.max_tokens, args.temperature)


def echo_args(args: argparse.Namespace, prog: str) -> None:
    """Print every knob at start (alpaca-lora style), so a log says exactly what ran."""
    knobs = ", ".join(f"{k}={v}" for k, v in vars(args).items() if k != "func")
    print(f"[{prog}] {knobs}", file=sys.stderr, flush=True)


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSONL file (a JSON array file works too); one clear error if it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no such file: {path}")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInputError(f"{path}: not valid JSON ({e.msg})") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise BadInputError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return out


def append_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Append and flush to disk, so a kill loses at most the record being written."""
    with open(path, "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Write a whole file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


class Progress:
    """A JSONL progress file of finished work keys: re-running a step skips what is already done."""

    def __init__(self, path: Path, fresh: bool = False):
        self.path = Path(path)
        if fresh:
            self.path.unlink(missing_ok=True)
        self.done: dict[str, dict] = {r["key"]: r for r in read_jsonl(self.path)} if self.path.exists() else {}

    def __contains__(self, key: str) -> bool:
        return key in self.done

    def mark(self, key: str, **info: object) -> None:
        rec = {"key": key, **info}
        self.done[key] = rec
        append_jsonl(self.path, [rec])
