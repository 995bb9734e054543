"""Structured output from a chat model: find the JSON, check it against a schema, ask again with backoff."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from rag.errors import ShuWenError

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class MalformedOutput(ShuWenError):
    """The model's reply is not JSON of the expected shape (after every retry)."""


def extract_json(text: str) -> Any:
    """The first JSON value in a reply, tolerating code fences, chatter around it and trailing commas."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for cand in candidates:
        for m in re.finditer(r"[\[{]", cand):
            for attempt in (cand[m.start():], re.sub(r",\s*([\]}])", r"\1", cand[m.start():])):
                try:
                    return decoder.raw_decode(attempt)[0]
                except json.JSONDecodeError:
                    continue
    raise MalformedOutput("no JSON value found in the reply")


def validate(value: Any, schema: dict) -> Any:
    """`value` if it satisfies the JSON schema, else MalformedOutput naming the first problem."""
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "top level"
        raise MalformedOutput(f"{where}: {e.message[:120]}") from None
    return value


def ask_json(complete: Callable[[list[dict]], str], messages: list[dict], schema: dict,
             retry_message: Callable[[str], str], retries: int = 3, backoff: float = 1.0,
             sleep: Callable[[float], None] = time.sleep) -> Any:
    """Ask until the reply parses and validates; each retry shows the model its error, after backoff·2^i seconds."""
    convo = list(messages)
    error = ""
    for attempt in range(retries + 1):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        reply = complete(convo)
        try:
            return validate(extract_json(reply), schema)
        except MalformedOutput as e:
            error = str(e)
            convo = [*messages, {"role": "assistant", "content": reply[:2000]}, {"role": "user", "content": retry_message(error)}]
    raise MalformedOutput(f"no valid JSON after {retries + 1} tries: {error}")
