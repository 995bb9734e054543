"""Answer through a running `rag serve` instead of loading a second copy of the model in this process.

The page (or any Python caller) gets the same `events(question, options, result)` and `stream(question, history,
result)` as `rag.answer.Asker`;
the server's queue, not a local lock, decides whose answer runs, and its `shuwen` object fills `result`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from rag.answer import Answer, check_question
from rag.contract import Event, Options, texts
from rag.errors import ShuWenError
from rag.retrieve import Passage
from rag.settings import Settings


class RemoteAsker:
    """Asks novel `name` through the OpenAI-compatible API at settings.remote_api."""

    def __init__(self, settings: Settings, name: str, on_queue: Callable[[int], None] | None = None):
        self.settings, self.name, self.on_queue = settings, name, on_queue
        self.url = settings.remote_api.rstrip("/") + "/chat/completions"

    def stream(self, question: str, history: list[tuple[str, str]] | None = None,
               result: Answer | None = None) -> Iterator[str]:
        """Text pieces as the server streams them; `result` is filled from the final chunk."""
        yield from texts(self.events(question, Options.of(history), result))

    def events(self, question: str, options: Options | None = None,
               result: Answer | None = None) -> Iterator[Event]:
        """The server's answer as the contract's events: tokens as they come, then the final record."""
        question = check_question(question)
        opts = options or Options()
        res = result if result is not None else Answer(question, question)
        for piece in self._pieces(question, opts, res):
            yield Event("token", piece)
        yield Event("final", record=res)

    def _pieces(self, question: str, opts: Options, res: Answer) -> Iterator[str]:
        import httpx

        messages = [m for q, a in opts.history for m in ({"role": "user", "content": q},
                                                         {"role": "assistant", "content": a})]
        body = {"model": self.name, "stream": True, "messages": messages + [{"role": "user", "content": question}]}
        read_to = self.settings.read_to if opts.read_to is None else opts.read_to
        if read_to:
            body["read_to"] = read_to
        body.update({k: v for k, v in (("temperature", opts.temperature), ("max_tokens", opts.max_tokens))
                     if v is not None})
        headers = {"Authorization": f"Bearer {self.settings.remote_api_key}"} if self.settings.remote_api_key else {}
        try:
            with httpx.stream("POST", self.url, json=body, headers=headers,
                              timeout=httpx.Timeout(600, connect=5)) as r:
                if r.status_code != 200:
                    r.read()
                    raise ShuWenError(f"the 书问 server said {r.status_code}: {_message(r.text)}")
                for line in r.iter_lines():
                    if not line.startswith("data: {"):
                        continue
                    data = json.loads(line[6:])
                    if "error" in data:
                        raise ShuWenError(f"the 书问 server failed: {data['error'].get('message')}")
                    info = data.get("shuwen") or {}
                    if "queue_position" in info and self.on_queue and "answer" not in info:
                        self.on_queue(info["queue_position"])
                    piece = (data["choices"][0].get("delta") or {}).get("content")
                    if piece:
                        yield piece
                    if "answer" in info:
                        _fill(res, info)
        except httpx.HTTPError as e:
            raise ShuWenError(f"cannot reach the 书问 server at {self.settings.remote_api} ({type(e).__name__}); "
                              "start it with `python -m rag serve` or clear remote_api") from None


def _message(text: str) -> str:
    try:
        return json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return text[:200]


def _fill(res: Answer, info: dict) -> None:
    res.answer, res.raw = info["answer"], info["answer"]
    res.standalone = info.get("standalone_question") or res.standalone
    res.sources = [Passage(**p) for p in info.get("sources", [])]
    res.evidence = [Passage(**p) for p in info.get("evidence", [])]
    res.support, res.citations = info.get("support"), info.get("citations", [])
    res.cited_chunk, res.timings = info.get("cited_chunk", ""), dict(info.get("timings", {}))
    res.not_yet, res.ungrounded = bool(info.get("not_yet")), info.get("ungrounded", "")
    res.changed = list(info.get("changed", []))
