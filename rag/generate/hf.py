"""A streaming LangChain chat model over transformers (+ an optional peft adapter)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.errors import ShuWenError
from rag.settings import Settings

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class HFChatModel(BaseChatModel):
    """Chat with any HF causal LM using its own chat template; 4-bit NF4 when CUDA is present."""

    model: Any = None
    tokenizer: Any = None
    max_new_tokens: int = 200
    temperature: float = 0.1

    @property
    def _llm_type(self) -> str:
        return "shuwen-transformers"

    @classmethod
    def load(cls, settings: Settings) -> HFChatModel:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rag.generate.bundled import BUNDLED_CHAT

        name = settings.chat_model
        if name == BUNDLED_CHAT:  # the bundled GGUF, converted once into a bf16 HF folder
            from rag.generate.hf_convert import hf_base

            name = str(hf_base(settings.cache_dir))
        kwargs: dict[str, Any] = {"trust_remote_code": True}
        if torch.cuda.is_available():
            try:
                from transformers import BitsAndBytesConfig

                kwargs["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=torch.bfloat16)
                kwargs["device_map"] = "auto"
            except ImportError:
                kwargs["dtype"] = torch.bfloat16
        try:
            tok = AutoTokenizer.from_pretrained(name, trust_remote_code=True)
            model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
        except (OSError, ValueError) as e:
            raise ShuWenError(f"cannot load chat model {name!r}: {str(e).splitlines()[0]}") from None
        if settings.adapter:
            from peft import PeftModel

            if not (Path(settings.adapter) / "adapter_config.json").is_file():
                raise ShuWenError(f"adapter {settings.adapter!r} is not a peft adapter folder (no adapter_config.json)")
            model = PeftModel.from_pretrained(model, settings.adapter)
        model.eval()
        return cls(model=model, tokenizer=tok, max_new_tokens=settings.max_tokens, temperature=settings.temperature)

    def _inputs(self, messages: list[BaseMessage]):
        chat = [{"role": _ROLES.get(m.type, "user"), "content": m.content} for m in messages]
        ids = self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)
        return {k: v.to(self.model.device) for k, v in ids.items()}

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        temperature = kwargs.get("temperature")
        temperature = self.temperature if temperature is None else temperature  # per call, like llama.cpp's
        gen = dict(self._inputs(messages), streamer=streamer,
                   max_new_tokens=kwargs.get("max_tokens") or self.max_new_tokens,
                   do_sample=temperature > 0, pad_token_id=self.tokenizer.eos_token_id)
        if temperature > 0:
            gen["temperature"] = temperature
        if kwargs.get("bad_words_ids"):
            gen["bad_words_ids"] = kwargs["bad_words_ids"]
        if kwargs.get("repetition_penalty"):
            gen["repetition_penalty"] = kwargs["repetition_penalty"]
        failed: list[BaseException] = []

        def run() -> None:
            try:
                self.model.generate(**gen)
            except BaseException as e:  # re-raised in the caller's thread below
                failed.append(e)
                streamer.end()  # otherwise the consumer waits forever for text that never comes

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        for text in streamer:
            if text:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
        thread.join()
        if failed:
            raise ShuWenError(f"generation failed: {failed[0]}") from failed[0]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(c.message.content for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
