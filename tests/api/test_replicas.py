"""Scaling out on real engines, on loopback: one `chroma run`, one `llama_cpp.server` on the bundled model and two
`rag serve` replicas. A novel uploaded through A is answered through B; a rebuild through B is seen by A."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import openai
import pytest

from tests.api.conftest import rag_serve, wait_job
from tests.conftest import ROOT, SAMPLE, chroma_run, free_port, wait_for_server

LOGS = ROOT / "test-artifacts" / "api"


@pytest.fixture(scope="module")
def model_server():
    """llama-cpp-python's own OpenAI-compatible server on the bundled GGUF."""
    from rag.generate.bundled import bundled_gguf
    from rag.settings import load_settings

    gguf = bundled_gguf(load_settings(env={}).cache_dir)
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "llama-server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "4096", "--model_alias", "bundled"],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        url = f"http://127.0.0.1:{port}/v1"
        try:
            wait_for_server(proc, lambda: httpx.get(url + "/models", timeout=2).raise_for_status(), "llama_cpp.server")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def upload(url: str, text: str, rebuild: bool = False) -> dict:
    r = httpx.post(url + "/v1/novels", files={"file": ("样书.txt", text.encode("utf-8"))},
                   data={"rebuild": str(rebuild).lower()}, timeout=60)
    assert r.status_code == 202, r.text
    job = wait_job(url, r.json()["id"])
    assert job["status"] == "succeeded", job
    return job


@pytest.mark.slow
def test_two_replicas_share_one_store_and_one_model_server(tmp_path, model_server):
    text = SAMPLE.read_text(encoding="utf-8")
    first = text[: text.index("第四回")]  # three chapters: 钱有道 is in 第二回
    with chroma_run(tmp_path / "chroma-data") as chroma_port:
        env = {"SHUWEN_STORE_BACKEND": "http", "SHUWEN_CHROMA_PORT": str(chroma_port),
               "SHUWEN_CHAT_BACKEND": "openai", "SHUWEN_OPENAI_BASE_URL": model_server,
               "SHUWEN_CHAT_MODEL": "bundled", "SHUWEN_UPLOAD_DIR": str(tmp_path / "uploads")}
        with rag_serve(free_port(), env, LOGS / "replica-a.log") as a, \
                rag_serve(free_port(), env, LOGS / "replica-b.log") as b:
            upload(a, first)
            client_b = openai.OpenAI(base_url=b + "/v1", api_key="unused", max_retries=0, timeout=600)
            assert [m.id for m in client_b.models.list()] == ["样书"]
            resp = client_b.chat.completions.create(model="样书",
                                                    messages=[{"role": "user", "content": "裕丰当的东家是谁？"}])
            assert "钱有道" in resp.choices[0].message.content  # answered by B from A's upload
            assert any("钱有道" in p["text"] for p in resp.model_extra["shuwen"]["sources"])

            # a new edition through B: A's very next question must read it, not a cached old build
            upload(b, first.replace("钱有道", "钱有德"), rebuild=True)
            hits = httpx.get(f"{a}/v1/novels/样书/search", params={"q": "裕丰当的东家是谁？", "k": 5}).json()["data"]
            joined = "".join(p["text"] for p in hits)
            assert "钱有德" in joined and "钱有道" not in joined
