"""OpenAI's JSON shapes (chat completions, stream chunks, model lists, errors), built from plain values."""

from __future__ import annotations

import json
import time
import uuid

# status → OpenAI error type; clients (the openai SDK) map the status to their own exception classes
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               409: "conflict_error", 413: "invalid_request_error", 422: "invalid_request_error",
               429: "rate_limit_error", 500: "server_error", 503: "service_unavailable"}


def error(status: int, message: str, code: str | None = None, param: str | None = None) -> dict:
    """{"error": {...}} as OpenAI sends it."""
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": code}}


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def completion(cid: str, model: str, content: str, shuwen: dict) -> dict:
    """A finished chat completion, with 书问's sources and timings under `shuwen`."""
    return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "shuwen": shuwen}


def chunk(cid: str, model: str, delta: dict, finish_reason: str | None = None, shuwen: dict | None = None) -> dict:
    """One `chat.completion.chunk` of a stream."""
    out = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
    if shuwen is not None:
        out["shuwen"] = shuwen
    return out


def sse(data: dict | str) -> str:
    """One server-sent event line pair."""
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def model_entry(name: str, built_at: float, owned_by: str = "shuwen") -> dict:
    """A model of GET /v1/models: a novel (owned_by shuwen) or a character of one (shuwen-character)."""
    return {"id": name, "object": "model", "created": int(built_at), "owned_by": owned_by}


def listing(data: list[dict]) -> dict:
    return {"object": "list", "data": data}
