"""Shared fixtures: the real bundled model, temporary stores, ../shared novels."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLE = ROOT / "corpus" / "青石镇奇案.txt"
APP = str(ROOT / "app.py")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def shared_file(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        pytest.fail(f"{path} is missing: tests need ../shared beside the checkout")
    return path


@pytest.fixture(scope="session")
def sample_master(tmp_path_factory) -> Path:
    """The sample novella's store, embedded once per test session (copy it before writing to it)."""
    from rag.index.build import build_index
    from rag.settings import load_settings

    store = tmp_path_factory.mktemp("sample-master") / "chroma"
    build_index(load_settings(env={}, store_dir=store), SAMPLE, "青石镇奇案", progress=False)
    return store


def sample_store(master: Path, dest: Path) -> Path:
    """A private copy of the sample store at `dest` (a store folder is plain files; copying beats re-embedding)."""
    shutil.copytree(master, dest)
    return dest


@pytest.fixture
def settings(tmp_path):
    from rag.settings import load_settings

    return load_settings(env={}, store_dir=tmp_path / "chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a project command the way a reader would."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def wait_for_server(proc: subprocess.Popen, probe, what: str, tries: int = 240) -> None:
    """Poll `probe()` until it stops raising; kill the server and fail the test if it never does."""
    import time

    for _ in range(tries):
        try:
            probe()
            return
        except Exception:  # any failure means "not up yet"
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"{what} did not start")


@contextlib.contextmanager
def chroma_run(path: Path):
    """A real `chroma run` server over `path` on a free loopback port; yields the port."""
    import chromadb

    port = free_port()
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(exe) if exe.exists() else shutil.which("chroma"), "run", "--path", str(path),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_server(proc, lambda: chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat(), "chroma server")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(autouse=True)
def _model_mark(request, monkeypatch):
    """A test that generates with the bundled chat model in this process carries the `model` mark, so `make
    test-fast` (-m "not model …") never loads it; tests that run it in a subprocess are marked by hand. Tiny random
    models (the fine-tuning kit's tests) are not the bundled one."""
    if request.node.get_closest_marker("model"):
        yield
        return
    from rag.generate.backends import BUNDLED_CHAT, ChatBackend

    def guarded(method):
        def call(self, *args, **kwargs):
            if self.name in ("llamacpp", "transformers") and (
                    self.model_id == BUNDLED_CHAT or "qwen2.5-coder-1.5b" in str(self.model_id).lower()):
                pytest.fail(f"{request.node.nodeid} runs the real chat model: mark it @pytest.mark.model")
            return method(self, *args, **kwargs)

        return call

    for name in ("stream", "choice_probs"):
        monkeypatch.setattr(ChatBackend, name, guarded(getattr(ChatBackend, name)))
    yield


# the page's fixtures (tests/test_app.py, tests/ui/): the sample store, its own speech cache, the fake model
@pytest.fixture(scope="module")
def app_store(tmp_path_factory, sample_master):
    return sample_store(sample_master, tmp_path_factory.mktemp("app") / "chroma")


@pytest.fixture
def env(app_store, tmp_path, monkeypatch):
    """A page on the sample store with its own speech cache."""
    monkeypatch.setenv("SHUWEN_STORE_DIR", str(app_store))
    monkeypatch.setenv("SHUWEN_TTS_CACHE", str(tmp_path / "tts"))
    # the pages' fake model says one short line each turn; a planned scene would judge it empty and give the turn to
    # the speaker's own book line (tests/roleplay/test_chatroom.py tests that), so the page tests run without a plan
    monkeypatch.setenv("SHUWEN_ROOM_BEATS", "0")
    monkeypatch.delenv("SHUWEN_CONFIG", raising=False)
    from rag import speak

    speak._edge_down_until = 0.0
    return monkeypatch


@pytest.fixture
def fake(env):
    from tests.fakes import FakeBackend
    from ui import resources

    backend = FakeBackend("裕丰当的东家是钱有道〔第二回〕。", piece=3)
    env.setattr(resources, "backend", lambda key: backend)
    return backend
