"""gen_chroma.py as a reader runs it: bad input, kill -9 mid-build, dry run, list/delete, retrieve --json."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from tests.conftest import ROOT, SAMPLE, run_cli, shared_file


@pytest.fixture(scope="module")
def built_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    res = run_cli("gen_chroma.py", "--novel", str(SAMPLE), "--name", "样书", "--store", str(store), "--json", "--quiet")
    assert res.returncode == 0, res.stderr
    return store


def _manifest(store):
    res = run_cli("gen_chroma.py", "--list", "--json", "--store", str(store))
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _bad_inputs(tmp):
    (tmp / "dir").mkdir()
    (tmp / "empty.txt").write_bytes(b"")
    (tmp / "pic.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    with zipfile.ZipFile(tmp / "book.zip", "w") as z:
        z.writestr("a.txt", "孙悟空" * 100)
    (tmp / "bad.txt").write_bytes("第一回 孙悟空".encode() + bytes([0xFF, 0xFE, 0xFA, 0x80, 0x81, 0xC0]) * 50)
    (tmp / "big.txt").write_text("话说孙悟空走了很远的路。\n" * 2000, encoding="utf-8")
    return {
        "missing": ([str(tmp / "nope.txt")], "no such file"),
        "directory": ([str(tmp / "dir")], "directory"),
        "empty": ([str(tmp / "empty.txt")], "empty"),
        "png": ([str(tmp / "pic.txt")], "PNG"),
        "zip": ([str(tmp / "book.zip")], "zip"),
        "undecodable": ([str(tmp / "bad.txt")], "undecodable"),
        "too big": ([str(tmp / "big.txt"), "--max-file-mb", "0.01"], "limit"),
    }


@pytest.mark.slow
def test_bad_input_gets_one_line_and_leaves_the_store(built_store, tmp_path):
    before = _manifest(built_store)
    for case, (args, needle) in _bad_inputs(tmp_path).items():
        res = run_cli("gen_chroma.py", "--novel", *args, "--name", "样书", "--store", str(built_store))
        assert res.returncode != 0, case
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (case, res.stderr)
        assert "Traceback" not in res.stderr
    assert _manifest(built_store) == before


@pytest.mark.slow
def test_kill_9_mid_build_keeps_the_previous_store(built_store):
    before = _manifest(built_store)
    proc = subprocess.Popen(
        [sys.executable, "gen_chroma.py", "--novel", str(shared_file("corpus/sanguo.txt")), "--name", "样书",
         "--store", str(built_store), "--rebuild"],
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seen = ""
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until embedding is under way, then kill -9
        ch = proc.stderr.read(1)
        if not ch:
            break
        seen += ch
        if "chunk/s" in seen and "32/" in seen:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "32/" in seen, seen[-500:]
    assert _manifest(built_store) == before
    res = run_cli("-m", "rag", "retrieve", "沈墨白", "--name", "样书", "--store", str(built_store), "--json")
    assert res.returncode == 0, res.stderr
    chunks = json.loads(res.stdout)["chunks"]
    sample = SAMPLE.read_text(encoding="utf-8")
    assert chunks and all(c["text"].replace("\n", "")[:20] in sample.replace("　", "").replace("\n", "")
                          for c in chunks)


def test_dry_run_json(tmp_path):
    res = run_cli("gen_chroma.py", "--novel", str(shared_file("corpus/xiyouji.txt")), "--dry-run", "--json",
                  "--store", str(tmp_path / "unused"))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"name", "encoding", "chapters", "chunks", "chars"}
    assert out["encoding"] == "utf-8-sig" and out["chapters"] == 101 and out["chunks"] > 1000
    assert not (tmp_path / "unused").exists()


@pytest.mark.slow
def test_retrieve_json_shape_list_and_delete(built_store, tmp_path):
    res = run_cli("-m", "rag", "retrieve", "当铺", "--name", "样书", "--store", str(built_store), "--k", "3", "--json")
    assert res.returncode == 0, res.stderr
    chunks = json.loads(res.stdout)["chunks"]
    assert len(chunks) == 3
    assert set(chunks[0]) == {"text", "chapter", "chapter_title", "start", "end", "score", "chunk_id"}
    sample = SAMPLE.read_text(encoding="utf-8")
    for c in chunks:
        assert sample[c["start"]:c["end"]].replace("　", "").replace("\n", "") == c["text"].replace("\n", "")
    res = run_cli("-m", "rag", "retrieve", "问题", "--name", "无此书", "--store", str(built_store))
    assert res.returncode != 0 and "gen_chroma.py" in res.stderr and "Traceback" not in res.stderr
    for cmd in (["--help"],):
        assert run_cli("gen_chroma.py", *cmd).returncode == 0
        assert run_cli("-m", "rag", "retrieve", *cmd).returncode == 0
    res = run_cli("gen_chroma.py", "--delete", "无此书", "--store", str(built_store))
    assert res.returncode != 0 and "no store named" in res.stderr
