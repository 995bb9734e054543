"""Chat-model backends behind one small interface: LangChain chat models that stream.

- llamacpp: a GGUF file through llama-cpp-python (the bundled Qwen2.5-Coder-1.5B by default)
- transformers: any HF causal LM, optionally with a peft LoRA/QLoRA adapter (how a tuned model is served)
- openai: any OpenAI-compatible server (vLLM, LMDeploy, llama.cpp server, Ollama)
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from rag.errors import ShuWenError
from rag.generate.bundled import BUNDLED_CHAT, bundled_gguf
from rag.settings import Settings, choices

BACKENDS = tuple(choices("chat_backend"))  # the setting's Literal type (rag/settings_sections.py)
DIGIT = re.compile(r"[0-9０-９]")  # what `no_digits` forbids
SAMPLING = ("stop", "presence_penalty", "frequency_penalty", "repeat_penalty")  # what `sampling` may hold


def _to_lc(messages: list[dict]):
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m["role"]](content=m["content"]) for m in messages]


class ChatBackend:
    """stream(messages) → text pieces; `name` and `model` say what is answering."""

    def __init__(self, settings: Settings, model):
        self.settings = settings
        self.model = model
        self.name = settings.chat_backend
        self.model_id = settings.chat_model

    def stream(self, messages: list[dict], max_tokens: int | None = None, temperature: float | None = None,
               no_digits: bool = False, sampling: dict | None = None) -> Iterator[str]:
        """Text pieces as the model produces them; per-call max_tokens/temperature override the settings.

        `no_digits` forbids Arabic digits where the backend allows it (llama.cpp, transformers): small models
        rewrite a book's 一千一百一十一 as "10" when they may use digits. `sampling` takes OpenAI's `stop`,
        `presence_penalty` and `frequency_penalty` (llama.cpp and OpenAI-compatible servers both take them) and
        llama.cpp's `repeat_penalty` (transformers: repetition_penalty; an OpenAI server does not take it).
        """
        kwargs: dict = {"max_tokens": max_tokens} if max_tokens else {}
        if temperature is not None:
            kwargs["temperature"] = temperature
        if no_digits:
            kwargs.update(self._no_digit_kwargs())
        kwargs.update(self._sampling_kwargs(sampling or {}))
        for chunk in self.model.stream(_to_lc(messages), **kwargs):
            if chunk.content:
                yield chunk.content

    def complete(self, messages: list[dict], max_tokens: int | None = None, temperature: float | None = None,
                 sampling: dict | None = None) -> str:
        return "".join(self.stream(messages, max_tokens, temperature, sampling=sampling))

    def _sampling_kwargs(self, sampling: dict) -> dict:
        out = {k: v for k, v in sampling.items() if k in SAMPLING and v not in (None, [], "")}
        if self.name == "openai":
            out.pop("repeat_penalty", None)
        elif self.name == "transformers":
            out = {"repetition_penalty": out["repeat_penalty"]} if out.get("repeat_penalty") else {}
        return out

    def _no_digit_kwargs(self) -> dict:
        """Generation arguments that forbid every token containing a digit (computed once per model)."""
        if not hasattr(self, "_digit_args"):
            llm = getattr(self.model, "client", None)
            tok = getattr(self.model, "tokenizer", None)
            if llm is not None and hasattr(llm, "detokenize"):
                ids = [i for i in range(llm.n_vocab()) if DIGIT.search(llm.detokenize([i]).decode("utf-8", "ignore"))]
                self._digit_args = {"logit_bias": {i: -100.0 for i in ids}}
            elif tok is not None:
                ids = [i for t, i in tok.get_vocab().items() if DIGIT.search(tok.convert_tokens_to_string([t]))]
                self._digit_args = {"bad_words_ids": [[i] for i in ids]}
            else:  # a remote server's token ids are unknown
                self._digit_args = {}
        return self._digit_args

    def choice_probs(self, messages: list[dict], choices: list[str]) -> dict[str, float]:
        """Probability (normalised over `choices`) that the reply starts with each choice.

        llama.cpp reads it from the next-token logits after one prompt pass (the shared prompt prefix stays
        in its cache); other backends generate a few tokens and give the matching choice probability 1.
        """
        llm = getattr(self.model, "client", None)
        if llm is not None and hasattr(llm, "tokenize"):
            return _llama_choice_probs(llm, messages, choices)
        reply = self.complete(messages, max_tokens=4).strip()
        best = max((c for c in choices if reply.startswith(c)), key=len, default=None)
        return {c: float(c == best) for c in choices}


def _llama_prompt(llm, messages: list[dict]) -> str:
    """The prompt text llama-cpp-python's create_chat_completion builds from the GGUF's chat template."""
    from llama_cpp import llama_chat_format

    def text(tok: int) -> str:
        return llm._model.token_get_text(tok) if tok != -1 else ""

    fmt = llama_chat_format.Jinja2ChatFormatter(template=llm.metadata["tokenizer.chat_template"],
                                                eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos()))
    return fmt(messages=messages).prompt


def _next_logits(llm, tokens: list[int]):
    """The model's logits for the token after `tokens` (one pass; llama.cpp reuses the cached prefix)."""
    import numpy as np

    seen: list[np.ndarray] = []

    def grab(_ids, logits):
        seen.append(np.array(logits, np.float64))
        return logits

    gen = llm.generate(tokens, temp=0.0, logits_processor=[grab])
    next(gen)
    gen.close()
    return seen[0]


def _llama_choice_probs(llm, messages: list[dict], choices: list[str]) -> dict[str, float]:
    import numpy as np

    tokens = llm.tokenize(_llama_prompt(llm, messages).encode("utf-8"), add_bos=False, special=True)
    firsts = [llm.tokenize(c.encode("utf-8"), add_bos=False, special=False)[0] for c in choices]
    z = _next_logits(llm, tokens)[firsts]
    p = np.exp(z - z.max())
    p /= p.sum()
    return {c: float(x) for c, x in zip(choices, p)}


def resolve_gguf(settings: Settings) -> Path:
    if settings.chat_model == BUNDLED_CHAT:
        return bundled_gguf(settings.cache_dir)
    path = Path(settings.chat_model).expanduser()
    if not path.is_file():
        raise ShuWenError(f"chat model file not found: {path} (llamacpp needs a .gguf path or {BUNDLED_CHAT})")
    return path


def _llamacpp(settings: Settings):
    try:
        from langchain_community.chat_models import ChatLlamaCpp
    except ImportError:
        raise ShuWenError("llama-cpp-python is not installed: `pip install llama-cpp-python`") from None
    path = resolve_gguf(settings)
    kwargs = {}
    if settings.lora_gguf:
        lora = Path(settings.lora_gguf).expanduser()
        if not lora.is_file():
            raise ShuWenError(f"LoRA adapter not found: {lora} (the reading LoRA is built by `make reader`, "
                              "docs/finetune.md)")
        kwargs["lora_path"] = str(lora)
    return ChatLlamaCpp(model_path=str(path), temperature=settings.temperature, max_tokens=settings.max_tokens,
                        streaming=True, verbose=False, **llamacpp_params(settings), **kwargs)


def llamacpp_params(settings: Settings) -> dict:
    """llama.cpp context parameters (shared with bench/answer_bench.py so both sides run alike)."""
    return {"n_ctx": settings.n_ctx, "n_threads": settings.n_threads or os.cpu_count() or 1,
            "n_batch": settings.n_batch}


def _check_reachable(url: str, timeout: float = 5.0) -> None:
    u = urlparse(url)
    try:
        socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout=timeout).close()
    except OSError as e:
        raise ShuWenError(f"chat server {url} is unreachable ({e.strerror or e}); start it or set openai_base_url") from None


def _openai(settings: Settings):
    from langchain_openai import ChatOpenAI

    _check_reachable(settings.openai_base_url)
    return ChatOpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key or "not-needed",
                      model=settings.chat_model, temperature=settings.temperature, max_tokens=settings.max_tokens,
                      timeout=60, max_retries=0, streaming=True)


def _transformers(settings: Settings):
    from rag.generate.hf import HFChatModel

    return HFChatModel.load(settings)


_INSTANCES: dict[tuple, ChatBackend] = {}


def get_backend(settings: Settings) -> ChatBackend:
    """The configured chat backend, loaded once per process."""
    if settings.chat_backend not in BACKENDS:
        raise ShuWenError(f"chat_backend must be one of {', '.join(BACKENDS)}, not {settings.chat_backend!r}")
    # temperature and max_tokens are per call (ChatBackend.stream), so changing them never reloads a model
    key = (settings.chat_backend, settings.chat_model, str(settings.adapter), str(settings.lora_gguf),
           settings.openai_base_url, settings.n_ctx, settings.n_threads, settings.n_batch)
    if key not in _INSTANCES:
        makers = {"llamacpp": _llamacpp, "openai": _openai, "transformers": _transformers}
        if settings.chat_backend != "openai":  # one local model in memory at a time; remote clients cost nothing
            for k in [k for k in _INSTANCES if k[0] != "openai"]:
                del _INSTANCES[k]
        _INSTANCES[key] = ChatBackend(settings, makers[settings.chat_backend](settings))
    return _INSTANCES[key]
