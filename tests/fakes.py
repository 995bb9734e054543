"""The one fake chat backend of the tests: the LLM boundary only (rag.contract.Backend), everything else real."""

from __future__ import annotations

import threading


class FakeBackend:
    """Replies with canned text streamed in pieces and records what it was asked.

    - `reply`: the answer every time; `script=[…]` instead: one reply a call, then `then`.
    - `rewrite`: what `complete` returns: "" (a follow-up rewrite the pipeline rejects) or a rewrite; None: the next
      reply, as a plain chat model would (roleplay regenerates with `complete`).
    - `support`: P(yes) of the support check; with `needs`, only when the prompt holds that text (else 0.1).
    - `gate`: cleared, a reply waits until the test sets it (`started` is set when one waits).
    """

    name, model_id = "fake", "fake"

    def __init__(self, reply: str = "钱有道。〔第二回〕", *, script: list[str] | None = None, then: str = "嗯。",
                 rewrite: str | None = "", support: float = 0.9, needs: str | None = None, piece: int = 2):
        self.reply, self.script, self.then, self.rewrite = reply, script, then, rewrite
        self.support, self.needs, self.piece = support, needs, piece
        self.prompts: list[list[dict]] = []  # every prompt streamed or completed
        self.checks: list[list[dict]] = []  # every support-check prompt
        self.no_digits: list[bool] = []
        self.knobs: list[tuple] = []  # (max_tokens, temperature) of every streamed prompt
        self.sampling: list[dict] = []  # the penalties and stops of every streamed prompt
        self.gate, self.started = threading.Event(), threading.Event()
        self.gate.set()

    def _next(self) -> str:
        if self.script is None:
            return self.reply
        return self.script.pop(0) if self.script else self.then

    def stream(self, messages, max_tokens=None, temperature=None, no_digits=False, sampling=None):
        self.prompts.append(messages)
        self.no_digits.append(no_digits)
        self.knobs.append((max_tokens, temperature))
        self.sampling.append(sampling or {})
        self.started.set()
        if not self.gate.wait(60):
            raise RuntimeError("the test never released the fake model")
        text = self._next()
        yield from (text[i:i + self.piece] for i in range(0, len(text), self.piece))

    def complete(self, messages, max_tokens=None, temperature=None, sampling=None):
        if self.rewrite is None:
            return "".join(self.stream(messages, max_tokens, temperature, sampling=sampling))
        self.prompts.append(messages)
        return self.rewrite

    def choice_probs(self, messages, choices):
        self.checks.append(messages)
        held = self.needs is None or self.needs in "".join(m["content"] for m in messages)
        p = self.support if held else 0.1
        return {choices[0]: p, choices[1]: 1 - p}


class FakeOpenAIServer:
    """An OpenAI-compatible /v1/chat/completions on a loopback port (stdlib http.server in a thread): replies with
    `reply`, streamed or not, and keeps every request body. For a character that talks through an endpoint."""

    def __init__(self, reply: str = "俺老猪只想吃斋饭。"):
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.reply, self.requests = reply, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                base = {"id": "fake", "created": 0, "model": body.get("model", "fake")}
                if not body.get("stream"):
                    data = json.dumps({**base, "object": "chat.completion", "choices": [{
                        "index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": fake.reply}}]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i in range(0, len(fake.reply), 3):
                    chunk = {**base, "object": "chat.completion.chunk", "choices": [{
                        "index": 0, "finish_reason": None, "delta": {"content": fake.reply[i:i + 3]}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
