"""Roleplay on the real bundled model, as a reader runs it: draft a card from the book, then talk to it."""

import json
import re

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.model


def test_draft_then_chat_with_the_real_model(rp_settings):
    env = {"SHUWEN_STORE_DIR": str(rp_settings.store_dir)}
    out = run_cli("-m", "roleplay", "draft", "--novel", "青石镇奇案", "--name", "沈墨白", "--aliases", "沈先生,无此人",
                  "--self-ref", "在下", "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["lines"] >= 10 and sorted(report["aliases"]) == sorted(["墨白", "沈先生"])  # 无此人 is not in the book
    card = json.loads(open(report["card"], encoding="utf-8").read())["data"]
    assert re.search(r"[\u4e00-\u9fff]{4}", card["description"]) and card["first_mes"] and "<START>" in card["mes_example"]
    out = run_cli("-m", "roleplay", "chat", "--novel", "青石镇奇案", "--name", "沈墨白", "你是做什么的？", "--json",
                  env=env)
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert re.search(r"[\u4e00-\u9fff]", reply["text"]) and not reply["text"].startswith("沈墨白：")
    assert reply["passages"] and len(reply["lines"]) == 4 and reply["timings"]["first_token_s"] > 0


def test_a_chatroom_of_two_with_the_real_model(rp_settings, tmp_path):
    """`python -m rag chatroom`: two characters of the novella take turns on the real model; the transcript is saved."""
    from roleplay import store
    from roleplay.card import new_card
    from tests.roleplay.conftest import detective

    store.save(rp_settings, detective())
    store.save(rp_settings, new_card("钱有道", description="裕丰当的东家，开当铺的商人。", personality="精明，爱财",
                                     shuwen={"novel": "青石镇奇案", "aliases": ["钱掌柜"], "self_ref": "小的"}))
    env = {"SHUWEN_STORE_DIR": str(rp_settings.store_dir)}
    out = run_cli("-m", "rag", "chatroom", "--novel", "青石镇奇案", "--characters", "沈墨白，钱有道", "--topic",
                  "裕丰当丢了东西", "--turns", "2", "--order", "list", "--out", str(tmp_path / "room"), "--json", env=env)
    assert out.returncode == 0, out.stderr
    turns = [json.loads(x) for x in out.stdout.splitlines()]
    assert [t["speaker"] for t in turns] == ["沈墨白", "钱有道"]
    for t in turns:  # real Chinese lines, each the speaker's own (no other speaker's line written in)
        assert re.search(r"[\u4e00-\u9fff]{2}", t["text"]) and not re.search(r"(沈墨白|钱有道)\s*[：:]", t["text"])
    rows = (tmp_path / "room.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(rows[0])["topic"] == "裕丰当丢了东西" and len(rows) == 3
    assert (tmp_path / "room.md").read_text(encoding="utf-8").startswith("# 聊天室：裕丰当丢了东西")
    help_ = run_cli("-m", "rag", "chatroom", "--help")
    assert help_.returncode == 0 and "--characters" in help_.stdout and "python -m rag chatroom" in help_.stdout
