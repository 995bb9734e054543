"""The HTTP routes: thin FastAPI handlers over `api.service`, in OpenAI's request and response shapes."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import unicodedata
from typing import Literal

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from api import shapes
from api.jobs import Job
from api.service import Conflict, NotFound, Service, character_info, shuwen_info, speech
from api.worker import QueueFull
from rag.answer import Answer
from rag.errors import ShuWenError, StoreError
from rag.index.uploads import FileTooLarge, check_size, save_upload
from rag.names import check_name, name_from_filename
from rag.settings import Settings
from roleplay.chat import Reply

log = logging.getLogger("shuwen.api")
UPLOAD_PATH = "/v1/novels"


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict] | None = None
    name: str | None = Field(None, max_length=40, description="who speaks (a character's model: another speaker's "
                             "line; the reader's own lines have no name)")

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts: only text parts carry a question
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # n, top_p, stream_options … are accepted and ignored
    model: str = Field(description="a novel's name, or novel/character to talk with a character, as GET /v1/models "
                       "lists them")
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=2048)
    max_completion_tokens: int | None = Field(None, ge=1, le=2048)
    read_to: str | None = Field(None, max_length=20, description="spoiler guard: how far the reader has read "
                                "(第20回, 20 or 40%); only that part of the book answers")


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: str = Field(min_length=1)
    model: str = "shuwen-tts"
    voice: str | None = None
    response_format: str = "mp3"


def scene(messages: list[Message], character: str) -> list[tuple[str, str]]:
    """(speaker, text) lines of a conversation with a character: its own turns are the assistant's (unnamed or
    named as it), a named line is that speaker's, the reader's are 你. System messages are dropped: the character's
    card and the book make its prompt."""
    lines = []
    for m in messages:
        if m.role in ("user", "assistant"):
            lines.append((speaker_name(m.name) or (character if m.role == "assistant" else "你"), m.text()))
    return lines


def speaker_name(name: str | None) -> str:
    """A message's `name` as a speaker (NFC, trimmed); one that could forge a line of the scene is a bad request."""
    n = unicodedata.normalize("NFC", name or "").strip()
    if any(unicodedata.category(c)[0] == "C" for c in n) or re.search(r"[：:]", n):
        raise ShuWenError(f"a message's name may not hold line breaks, control characters or colons: {name!r}")
    return n


def conversation(messages: list[Message]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the earlier (user, assistant) turns."""
    if messages[-1].role != "user":
        raise ShuWenError("the last message must have role 'user' (the question)")
    history, pending = [], None
    for m in messages[:-1]:
        if m.role == "user":
            pending = m.text()
        elif m.role == "assistant" and pending is not None:
            history.append((pending, m.text()))
            pending = None
    return messages[-1].text(), history


# --- errors ---------------------------------------------------------------------------------------

def _status(e: ShuWenError) -> int:
    for kind, status in ((NotFound, 404), (Conflict, 409), (FileTooLarge, 413), (StoreError, 503)):
        if isinstance(e, kind):
            return status
    return 400


def error_response(status: int, message: str, code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(shapes.error(status, message, code), status_code=status, headers=headers)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ShuWenError)
    async def shuwen_error(_req: Request, e: ShuWenError):
        return error_response(_status(e), str(e))

    @app.exception_handler(QueueFull)
    async def queue_full(_req: Request, e: QueueFull):
        return error_response(429, f"too many questions are waiting for the model; retry in {e.retry_after} s",
                              "queue_full", {"Retry-After": str(e.retry_after)})

    @app.exception_handler(HTTPException)
    async def http_error(_req: Request, e: HTTPException):
        return error_response(e.status_code, str(e.detail), headers=getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_req: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return error_response(400, f"{where}: {first.get('msg', 'invalid request')}" if where else
                              str(first.get("msg", "invalid request")))

    @app.exception_handler(Exception)
    async def internal(_req: Request, e: Exception):
        log.exception("unhandled error")  # the traceback goes to the server log, never to the client
        return error_response(500, f"internal error ({type(e).__name__}); see the server log")


class BodyLimit:
    """413 for bodies over the limit, by Content-Length or by counting a chunked body as it arrives."""

    def __init__(self, app, json_limit: int, upload_limit: int):
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"] == UPLOAD_PATH and scope["method"] == "POST"
        limit = self.upload_limit if upload else self.json_limit
        what = "the upload" if upload else "the request body"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            resp = error_response(413, f"{what} is {int(declared):,} bytes; the limit is {limit:,}")
            return await resp(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"{what} is over the limit of {limit:,} bytes")
            return msg

        return await self.app(scope, counted, send)


# --- the app --------------------------------------------------------------------------------------

def create_app(settings: Settings, service: Service | None = None) -> FastAPI:
    """The FastAPI app of `python -m rag serve` (a test may hand in a service with a fake chat backend)."""
    svc = service or Service(settings)
    keys = [k.strip() for k in settings.api_keys.split(",") if k.strip()]
    app = FastAPI(title="书问 ShuWen API", version="1", description=(
        "OpenAI-compatible chat completions over a novel's passages, with chapter citations. "
        "Each built novel is a model: GET /v1/models lists them."))
    app.state.service = svc
    _install_errors(app)
    app.add_middleware(BodyLimit, json_limit=settings.max_request_kb * 1024,
                       upload_limit=int(settings.max_file_mb * 1024 * 1024) + 64 * 1024)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])

    def auth(request: Request) -> None:
        if not keys:
            return
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not any(hmac.compare_digest(given.encode(), k.encode()) for k in keys):
            raise HTTPException(401, "missing or wrong API key: send Authorization: Bearer <key>",
                                headers={"WWW-Authenticate": "Bearer"})

    v1 = [Depends(auth)]

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz():
        ok, why = svc.ready()
        return {"status": "ready"} if ok else error_response(503, why, "not_ready")

    @app.get("/v1/models", dependencies=v1, tags=["openai"])
    def models() -> dict:
        return shapes.listing([shapes.model_entry(m.name, m.built_at) for m in svc.manifests()]
                              + [shapes.model_entry(f"{novel}/{name}", at, "shuwen-character")
                                 for novel, name, at in svc.characters()])

    @app.get("/v1/models/{name:path}", dependencies=v1, tags=["openai"])
    def model(name: str) -> dict:
        if "/" in name:
            card = svc.card(name)
            m = svc.manifest(name.partition("/")[0])
            return shapes.model_entry(f"{m.name}/{card['data']['name']}", m.built_at, "shuwen-character")
        m = svc.manifest(name)
        return shapes.model_entry(m.name, m.built_at)

    @app.post("/v1/chat/completions", dependencies=v1, tags=["openai"])
    def chat_completions(req: ChatRequest):
        if "/" in req.model:
            return character_completion(req)
        question, history = conversation(req.messages)
        name = svc.manifest(req.model).name
        res = Answer(question, question)
        ticket = svc.ask(name, question, history, res, req.temperature, req.max_tokens or req.max_completion_tokens,
                         req.read_to)
        return respond(req.stream, name, ticket, lambda: res.answer, lambda: shuwen_info(res, ticket))

    def character_completion(req: ChatRequest):
        """A character's next turn (model `novel/character`), in the same shapes as a book answer."""
        card = svc.card(req.model)
        model = f"{card['data']['extensions']['shuwen']['novel']}/{card['data']['name']}"
        reply = Reply()
        ticket = svc.roleplay(card, scene(req.messages, card["data"]["name"]), reply, req.temperature,
                              req.max_tokens or req.max_completion_tokens, req.read_to)
        return respond(req.stream, model, ticket, lambda: reply.text, lambda: character_info(reply, ticket))

    @app.post("/v1/audio/speech", dependencies=v1, tags=["openai"])
    def audio_speech(req: SpeechRequest) -> Response:
        data, media = speech(settings, req.input, req.voice, req.response_format)
        return Response(data, media_type=media)

    @app.get("/v1/novels", dependencies=v1, tags=["library"])
    def novels() -> dict:
        return shapes.listing([svc.public(m) for m in svc.manifests()])

    @app.post("/v1/novels", dependencies=v1, status_code=202, tags=["library"])
    def upload(file: UploadFile = File(..., description="the novel, a .txt file"),  # noqa: B008
               name: str | None = Form(None), rebuild: bool = Form(False)):  # noqa: B008
        filename = file.filename or "novel.txt"
        data = file.file.read(int(settings.max_file_mb * 1024 * 1024) + 1)
        check_size(len(data), filename, settings)
        if not data.strip():
            raise ShuWenError(f"{name_from_filename(filename)} is empty")
        novel = check_name(name) if name else name_from_filename(filename)
        job = svc.jobs.submit(save_upload(data, filename, settings), novel, rebuild)
        return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})

    @app.get("/v1/jobs/{job_id}", dependencies=v1, tags=["library"])
    def job(job_id: str) -> dict:
        j: Job | None = svc.jobs.get(job_id)
        if j is None:
            raise NotFound(f"no job {job_id!r} on this server")
        return j.to_dict()

    @app.get("/v1/novels/{name}", dependencies=v1, tags=["library"])
    def novel(name: str) -> dict:
        return svc.public(svc.manifest(name))

    @app.delete("/v1/novels/{name}", dependencies=v1, tags=["library"])
    def delete(name: str) -> dict:
        m = svc.delete(name)
        return {"id": m.name, "object": "novel", "deleted": True}

    @app.get("/v1/novels/{name}/search", dependencies=v1, tags=["library"])
    def search(name: str, q: str = Query(..., description="the question"),
               k: int = Query(5, description="passages to return")) -> dict:
        return shapes.listing([p.to_dict() for p in svc.search(name, q, k)])

    return app


def _status_for(e: BaseException) -> tuple[int, str]:
    if isinstance(e, ShuWenError) and not isinstance(e, StoreError):
        return _status(e), str(e)
    log.error("answer failed: %r", e)
    return 503, "the chat model is not available; see the server log"


def respond(stream: bool, model: str, ticket, text, info):
    """The chat completion of a queued reply (a book answer or a character's): `text()` and `info()` give its final
    text and `shuwen` object once the ticket's pieces end; streamed as SSE chunks, or whole."""
    cid = shapes.completion_id()
    if not stream:
        try:
            "".join(ticket.pieces())
        except Exception as e:  # noqa: BLE001 — the reply failed on the worker thread
            return error_response(*_status_for(e))
        return shapes.completion(cid, model, text(), info())
    return StreamingResponse(_stream(cid, model, ticket, text, info), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream(cid: str, name: str, ticket, final, info):
    """SSE chunks: the queue position first, the text as generated, then the finish with `shuwen`."""
    yield shapes.sse(shapes.chunk(cid, name, {"role": "assistant", "content": ""},
                                  shuwen={"queue_position": ticket.position}))
    sent = ""
    try:
        for piece in ticket.pieces():
            sent += piece
            yield shapes.sse(shapes.chunk(cid, name, {"content": piece}))
    except BaseException as e:  # noqa: BLE001 — an error mid-stream is reported in the stream
        if isinstance(e, GeneratorExit):  # the reader left: stop generating for them
            ticket.cancelled.set()
            raise
        status, message = _status_for(e)
        yield shapes.sse(shapes.error(status, message))
        yield shapes.sse("[DONE]")
        return
    finally:
        ticket.cancelled.set()  # no-op when the answer finished
    # the finished answer may add the citation (or repair the model's text); a plain client gets the tail
    text = final()
    tail = text[len(sent):] if text.startswith(sent) else ""
    yield shapes.sse(shapes.chunk(cid, name, {"content": tail} if tail else {}, "stop", info()))
    yield shapes.sse("[DONE]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, host: str, port: int, allow_open: bool = False) -> int:
    """Run the API with uvicorn until interrupted (one process: the model is loaded once)."""
    import uvicorn

    if not settings.api_keys.strip() and not is_loopback(host) and not allow_open:
        raise ShuWenError(f"refusing to serve on {host} without API keys: set api_keys (SHUWEN_API_KEYS) or pass "
                          "--allow-no-auth to accept anyone who can reach the port")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    print(f"书问 API on http://{host}:{port}  (docs: /docs, models: /v1/models)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
