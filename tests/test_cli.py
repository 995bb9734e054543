"""The one command: `shuwen` (and `python -m rag`) with the subcommands other packages register, installable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from rag.cli import CORE, Command, build_parser, main, plugin_commands
from tests.conftest import ROOT, run_cli

ALL = {"retrieve", "ask", "chat", "eval", "speak", "index", "card", "roleplay", "chatroom", "serve"}


def test_registered_commands_are_found_through_entry_points():
    names = {c.name for c in plugin_commands()}
    assert {"serve", "card", "roleplay", "chatroom"} <= names  # api/ and roleplay/ add them; rag/ never imports them
    assert {c.name for c in CORE} == {"index"}


def test_a_registered_command_gets_the_rest_of_argv(monkeypatch):
    seen = []
    extra = [Command("hello", "say hello", lambda argv, prog: seen.append((argv, prog)) or 0)]
    assert "hello" in build_parser("shuwen", extra).format_help()
    monkeypatch.setattr("rag.cli.plugin_commands", lambda: extra)
    assert main(["hello", "--x", "1"], prog="shuwen") == 0
    assert seen == [(["--x", "1"], "shuwen hello")]


def test_python_m_rag_lists_every_command():
    res = run_cli("-m", "rag", "--help")
    assert res.returncode == 0
    assert ALL <= set(res.stdout.split("{", 1)[1].split("}", 1)[0].split(","))
    res = run_cli("-m", "rag", "serve", "--help")
    assert res.returncode == 0 and "--allow-no-auth" in res.stdout and "python -m rag serve" in res.stdout


@pytest.mark.slow
def test_pip_install_gives_a_working_shuwen(tmp_path):
    """The wheel pip builds from pyproject.toml: its `shuwen` script, subcommands and data files (no deps: they are
    this environment's; the build is offline, with this environment's setuptools)."""
    target = tmp_path / "site"
    src = tmp_path / "src"  # a copy: setuptools writes build/ and *.egg-info beside the sources it builds
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv*", "chroma", "runs", "build", "docs",
                                                             "test-artifacts", "*.egg-info", "__pycache__", "*.gguf"))
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--target", str(target), str(src)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    for data in ("rag/rank_weights.json", "rag/generate/prompts/concise.json", "roleplay/prompts/roleplay.json",
                 "finetune/prompts/qa.json", "finetune/reader/recipe.json"):
        assert (target / data).is_file(), data
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import rag, roleplay; print(rag.__file__, roleplay.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert where.stdout.count(str(target)) == 2  # the installed copy, not the checkout
    for args, expect in ((["--help"], "serve"), (["serve", "--help"], "--allow-no-auth"),
                         (["index", "--help"], "--novel"), (["card", "--help"], "draft")):
        res = subprocess.run([str(target / "bin" / "shuwen"), *args], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 0 and expect in res.stdout, (args, res.stderr[-1500:])
        assert res.stdout.startswith("usage: shuwen")
