"""Every endpoint and error status of `rag serve` over real HTTP on loopback (httpx and the openai SDK),
real stores and embeddings; the chat model is a fake at the LLM boundary (the real one: test_real_model.py)."""

from __future__ import annotations

import io
import json
import time
import wave

import httpx
import openai
import pytest

from tests.api.conftest import OWNER, FakeBackend, make_app, serving, wait_job
from tests.conftest import SAMPLE, run_cli

NOVEL = "青石镇奇案"
QUESTION = "裕丰当的东家是谁？"


@pytest.fixture(scope="module")
def fake():
    return FakeBackend(OWNER)


@pytest.fixture(scope="module")
def url(api_settings, fake):
    app, _ = make_app(api_settings, fake)
    with serving(app) as base:
        yield base


def test_health_models_and_openapi_docs(url, client):
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    for _ in range(100):  # the worker "loads" the fake model on its thread
        r = httpx.get(url + "/readyz")
        if r.status_code == 200:
            break
        time.sleep(0.05)
    assert r.json() == {"status": "ready"}
    assert [m.id for m in client.models.list()] == [NOVEL]
    assert client.models.retrieve(NOVEL).owned_by == "shuwen"
    assert "/v1/chat/completions" in httpx.get(url + "/openapi.json").json()["paths"]
    assert httpx.get(url + "/docs").status_code == 200


def test_chat_completion_with_sources_and_citation(client):
    resp = client.chat.completions.create(model=NOVEL, messages=[{"role": "user", "content": QUESTION}])
    answer = resp.choices[0].message.content
    assert answer.startswith("裕丰当的东家是钱有道") and answer.endswith("〕")  # cited from the evidence
    info = resp.model_extra["shuwen"]
    assert info["answer"] == answer and 1 <= len(info["sources"]) <= 5  # the pool's passages the windows came from
    cited = next(p for p in info["sources"] if p["chunk_id"] == info["cited_chunk"])
    assert "钱有道" in cited["text"] and f"第{'一二三四五六七八'[info['citations'][0] - 1]}回" in answer
    assert info["evidence"] and info["support"] == 0.9 and info["queue_position"] == 0
    assert {"retrieval_s", "first_token_s", "total_s", "queue_s"} <= set(info["timings"])


def test_stream_is_openai_chunks_ending_with_the_cited_answer(client):
    chunks = list(client.chat.completions.create(
        model=NOVEL, stream=True, messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model_extra["shuwen"] == {"queue_position": 0}
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert text == final.model_extra["shuwen"]["answer"] and text.endswith("〕")
    # release = "hold" (the default): the answer comes once every stage has passed, so no chunk is ever taken back
    assert [c.choices[0].delta.content for c in chunks[1:-1]] == [text]


def test_follow_up_uses_earlier_turns(client):
    resp = client.chat.completions.create(model=NOVEL, messages=[
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "裕丰当的东家是谁？"},
        {"role": "assistant", "content": "钱有道。"},
        {"role": "user", "content": "他后来怎么样了？"}])
    standalone = resp.model_extra["shuwen"]["standalone_question"]
    assert standalone != "他后来怎么样了？" and "裕丰当" in standalone  # rewritten with the history


def error_of(r: httpx.Response) -> dict:
    body = r.json()
    assert set(body) == {"error"} and body["error"]["message"]
    assert "Traceback" not in r.text and "/work" not in r.text and "site-packages" not in r.text
    return body["error"]


def test_error_statuses_in_openai_shape(url, client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="没有这本书", messages=[{"role": "user", "content": QUESTION}])
    post = lambda body, **kw: httpx.post(url + "/v1/chat/completions", **kw, **({"json": body} if body else {}))  # noqa: E731
    cases = [
        ({"model": NOVEL, "messages": []}, 400),
        ({"model": NOVEL}, 400),
        ({"model": NOVEL, "messages": [{"role": "assistant", "content": "hi"}]}, 400),
        ({"model": NOVEL, "messages": [{"role": "user", "content": "   "}]}, 400),
        ({"model": NOVEL, "messages": [{"role": "user", "content": "问" * 501}]}, 400),
        ({"model": NOVEL, "messages": [{"role": "user", "content": QUESTION}], "temperature": 5}, 400),
        ({"model": NOVEL, "messages": [{"role": "wizard", "content": QUESTION}]}, 400),
    ]
    for body, status in cases:
        r = post(body)
        assert r.status_code == status, (body, r.text)
        assert error_of(r)["type"] == "invalid_request_error"
    r = post(None, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and error_of(r)
    big = {"model": NOVEL, "messages": [{"role": "user", "content": QUESTION, "pad": "x" * 70_000}]}
    r = post(big)
    assert r.status_code == 413 and "limit" in error_of(r)["message"]
    chunked = httpx.post(url + "/v1/chat/completions", content=iter([json.dumps(big).encode()] * 2),
                         headers={"content-type": "application/json"})  # no Content-Length: counted as it comes
    assert chunked.status_code == 413 and error_of(chunked)
    r = httpx.get(url + "/v1/jobs/job-nope")
    assert r.status_code == 404 and error_of(r)["type"] == "not_found_error"


def test_names_are_validated_before_any_lookup(url):
    for bad in ["..", "a..b", "%2e%2e%2fchroma", "x%00y", "%E2%80%AEevil"]:
        r = httpx.get(f"{url}/v1/novels/{bad}/search", params={"q": QUESTION})
        assert r.status_code in (400, 404), (bad, r.text)
        assert error_of(r)
    r = httpx.get(f"{url}/v1/novels/..%2F..%2Fetc/search", params={"q": QUESTION})
    assert r.status_code in (400, 404) and error_of(r)
    r = httpx.post(url + "/v1/novels", files={"file": ("a.txt", "第一回\n正文。".encode())}, data={"name": "../evil"})
    assert r.status_code == 400 and "'..'" in error_of(r)["message"]


def test_search_and_library_listing(url):
    r = httpx.get(f"{url}/v1/novels/{NOVEL}/search", params={"q": QUESTION, "k": 3})
    passages = r.json()["data"]
    assert r.status_code == 200 and len(passages) == 3
    assert any("钱有道" in p["text"] for p in passages) and all(p["chapter_title"] for p in passages)
    assert httpx.get(f"{url}/v1/novels/{NOVEL}/search", params={"q": QUESTION, "k": 0}).status_code == 400
    assert httpx.get(f"{url}/v1/novels/{NOVEL}/search").status_code == 400  # q is required
    novels = httpx.get(url + "/v1/novels").json()["data"]
    assert [n["id"] for n in novels] == [NOVEL] and novels[0]["chunks"] > 20
    assert "source_path" not in novels[0]  # no server paths leave the server


@pytest.mark.slow
def test_upload_builds_a_novel_that_answers_then_delete(url, client, api_settings):
    text = SAMPLE.read_text(encoding="utf-8")
    part = text[: text.index("第三回")]  # two chapters: a real build, kept short
    r = httpx.post(url + "/v1/novels", files={"file": ("../../样书.txt", part.encode("gb18030"))})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}" and job["novel"] == "样书"
    done = wait_job(url, job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["chapters"] == 2 and done["progress"]["done"] == done["progress"]["total"] > 0
    assert all(p.parent == api_settings.uploads_dir for p in api_settings.uploads_dir.rglob("*"))  # no ../ escape
    assert sorted(m.id for m in client.models.list()) == sorted([NOVEL, "样书"])
    resp = client.chat.completions.create(model="样书", messages=[{"role": "user", "content": QUESTION}])
    assert "钱有道" in resp.model_extra["shuwen"]["sources"][0]["text"] + "".join(
        p["text"] for p in resp.model_extra["shuwen"]["sources"])
    assert httpx.delete(url + "/v1/novels/样书").json() == {"id": "样书", "object": "novel", "deleted": True}
    assert httpx.delete(url + "/v1/novels/样书").status_code == 404
    assert [m.id for m in client.models.list()] == [NOVEL]


def test_failed_build_is_a_failed_job_and_the_library_is_untouched(url):
    r = httpx.post(url + "/v1/novels", files={"file": ("坏.txt", b"\xff\xfe\x00\xd8" * 3000)})
    job = wait_job(url, r.json()["id"]) if r.status_code == 202 else None
    assert (r.status_code == 400 and error_of(r)) or job["status"] == "failed" and job["error"]
    assert [n["id"] for n in httpx.get(url + "/v1/novels").json()["data"]] == [NOVEL]
    r = httpx.post(url + "/v1/novels", files={"file": ("空.txt", b"   \n")})
    assert r.status_code == 400 and "empty" in error_of(r)["message"]


def test_delete_while_building_is_409_and_the_job_reports_progress(api_settings):
    import threading

    app, svc = make_app(api_settings)
    gate, seen = threading.Event(), threading.Event()

    def held_build(path, name, rebuild, progress):  # the real build, held at its start
        progress(0, 32)
        seen.set()
        gate.wait(60)
        return svc._build(path, name, rebuild, progress)

    svc.jobs._build = held_build
    with serving(app) as base:
        r = httpx.post(base + "/v1/novels", files={"file": ("青石镇奇案.txt", SAMPLE.read_bytes())})
        assert r.status_code == 202 and seen.wait(30)
        job = httpx.get(base + r.headers["location"]).json()
        assert job["status"] == "running" and job["progress"] == {"done": 0, "total": 32, "fraction": 0.0}
        d = httpx.delete(f"{base}/v1/novels/{NOVEL}")
        assert d.status_code == 409 and "being built" in error_of(d)["message"]
        gate.set()
        assert wait_job(base, job["id"])["result"]["up_to_date"]  # same file: nothing to embed
        assert httpx.get(f"{base}/v1/novels/{NOVEL}").status_code == 200


def test_speech_mp3_and_wav(url, client):
    mp3 = client.audio.speech.create(model="shuwen-tts", voice="alloy", input="裕丰当的东家是钱有道〔第二回〕。")
    data = mp3.read()
    assert len(data) > 2000 and (data[:3] == b"ID3" or data[0] == 0xFF)
    r = httpx.post(url + "/v1/audio/speech", json={"input": "钱有道。", "response_format": "wav", "voice": "espeak"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert w.getnframes() / w.getframerate() > 0.3
    r = httpx.post(url + "/v1/audio/speech", json={"input": "钱有道。", "response_format": "flac"})
    assert r.status_code == 400 and "mp3 or wav" in error_of(r)["message"]
    r = httpx.post(url + "/v1/audio/speech", json={"input": "〔第二回〕"})
    assert r.status_code == 400 and error_of(r)


def test_api_keys_cors_and_upload_limit(api_settings):
    settings = api_settings.replace(api_keys="k-one, k-two", cors_origins="https://reader.example",
                                    max_file_mb=0.01)
    app, _ = make_app(settings)
    with serving(app) as base:
        assert httpx.get(base + "/healthz").status_code == 200  # probes need no key
        r = httpx.get(base + "/v1/models")
        assert r.status_code == 401 and error_of(r)["type"] == "authentication_error"
        assert httpx.get(base + "/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list()
        ok = openai.OpenAI(base_url=base + "/v1", api_key="k-two", max_retries=0)
        assert [m.id for m in ok.models.list()] == [NOVEL]
        pre = httpx.options(base + "/v1/chat/completions", headers={
            "Origin": "https://reader.example", "Access-Control-Request-Method": "POST"})
        assert pre.headers["access-control-allow-origin"] == "https://reader.example"
        pre = httpx.options(base + "/v1/chat/completions", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers
        r = httpx.post(base + "/v1/novels", headers={"Authorization": "Bearer k-one"},
                       files={"file": ("大.txt", "第一回\n".encode() + "字".encode() * 20_000)})
        assert r.status_code == 413 and "max_file_mb" in error_of(r)["message"]


def test_queue_full_is_429_with_retry_after_and_positions_are_reported(api_settings):
    slow = FakeBackend(OWNER)
    slow.gate.clear()
    app, svc = make_app(api_settings.replace(max_queue=1), slow)
    body = {"model": NOVEL, "messages": [{"role": "user", "content": QUESTION}]}
    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        import concurrent.futures as cf

        with cf.ThreadPoolExecutor(2) as pool:
            first = pool.submit(http.post, "/v1/chat/completions", json=body)
            assert slow.started.wait(30)
            with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as second:
                lines = second.iter_lines()
                head = next(lines)
                assert json.loads(head.removeprefix("data: "))["shuwen"]["queue_position"] == 1
                r = http.post("/v1/chat/completions", json=body)
                assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
                assert error_of(r)["type"] == "rate_limit_error"
                slow.gate.set()
                rest = [json.loads(x.removeprefix("data: ")) for x in lines if x.startswith("data: {")]
            assert first.result().status_code == 200
        assert rest[-1]["shuwen"]["queue_position"] == 1 and rest[-1]["choices"][0]["finish_reason"] == "stop"
        assert svc.worker.pending == 0


def test_model_that_fails_to_load_is_503_not_ready(api_settings):
    from api.server import create_app
    from api.service import Service

    class Broken(Service):
        def backend(self):
            raise RuntimeError("/secret/path/model.gguf: bad magic")

    svc = Broken(api_settings)
    with serving(create_app(api_settings, svc)) as base:
        assert svc.worker.ready.wait(30)
        r = httpx.get(base + "/readyz")
        assert r.status_code == 503 and error_of(r)["code"] == "not_ready"
        r = httpx.post(base + "/v1/chat/completions",
                       json={"model": NOVEL, "messages": [{"role": "user", "content": QUESTION}]})
        assert r.status_code == 503 and "secret" not in r.text and error_of(r)["type"] == "service_unavailable"
        with httpx.stream("POST", base + "/v1/chat/completions", json={
                "model": NOVEL, "stream": True, "messages": [{"role": "user", "content": QUESTION}]}) as s:
            events = [x for x in s.iter_lines() if x.startswith("data: ")]
        assert json.loads(events[-2].removeprefix("data: "))["error"]["type"] == "service_unavailable"
        assert events[-1] == "data: [DONE]"


def test_read_to_holds_back_a_later_answer(api_settings):
    from rag.spoiler import NOT_YET

    app, _ = make_app(api_settings, FakeBackend(reply="清点出七万六千两。", needs="七万六千"))
    body = {"model": NOVEL, "messages": [{"role": "user", "content": "最后从山洞里清点出多少官银？"}]}
    with serving(app) as base:
        r = httpx.post(base + "/v1/chat/completions", json={**body, "read_to": "第三回"}, timeout=120).json()
        assert r["choices"][0]["message"]["content"] == NOT_YET and r["shuwen"]["not_yet"]
        assert all(p["chapter"] <= 3 for p in r["shuwen"]["sources"])
        r = httpx.post(base + "/v1/chat/completions", json=body, timeout=120).json()
        assert "七万六千两" in r["choices"][0]["message"]["content"] and not r["shuwen"]["not_yet"]
        r = httpx.post(base + "/v1/chat/completions", json={**body, "read_to": "soon"})
        assert r.status_code == 400 and "read_to" in error_of(r)["message"]


def test_serve_refuses_an_open_address_without_keys_and_has_help():
    out = run_cli("-m", "rag", "serve", "--host", "0.0.0.0", "--port", "1", env={"SHUWEN_API_KEYS": ""})
    assert out.returncode == 2 and "without API keys" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("-m", "rag", "serve", "--help")
    assert out.returncode == 0 and "--allow-no-auth" in out.stdout
