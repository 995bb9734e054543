"""A real `rag serve` app on loopback over a copy of the sample store; the chat model is a fake or the real one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import openai
import pytest

from tests.conftest import free_port, sample_store
from tests.fakes import FakeBackend

OWNER = "裕丰当的东家是钱有道。"  # the fake model's reply to the API tests' question


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in this process; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    else:
        pytest.fail("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def api_store(tmp_path_factory, sample_master):
    return sample_store(sample_master, tmp_path_factory.mktemp("api") / "chroma")


@pytest.fixture(scope="module")
def api_settings(api_store, tmp_path_factory):
    from rag.settings import load_settings

    cache = tmp_path_factory.mktemp("api-cache")
    return load_settings(env={}, store_dir=api_store, upload_dir=str(cache / "uploads"),
                         tts_cache=str(cache / "tts"), tts_engine="espeak")


@pytest.fixture
def client(url):
    """The OpenAI SDK pointed at the test module's server (its own `url` fixture)."""
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def make_app(settings, backend=None):
    from api.server import create_app
    from api.service import Service

    svc = Service(settings, backend=backend or FakeBackend(OWNER))
    return create_app(settings, svc), svc


@contextmanager
def rag_serve(port: int, env: dict[str, str], log, *args: str) -> Iterator[str]:
    """`python -m rag serve` as a reader runs it, until /readyz says the model is loaded; yields the base URL."""
    from api import process

    try:
        with process.rag_serve(port, env, log, *args) as served:
            yield served.url
    except RuntimeError as e:
        pytest.fail(str(e))


def wait_job(url: str, job_id: str, seconds: float = 360) -> dict:
    """Poll GET /v1/jobs/{id} until the build ends; its final state."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not finish")
