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
    beats = json.loads(rows[0])["beats"]  # the scene planned from the book before the first turn (room_beats)
    assert 1 <= len(beats) <= 3 and all(re.search(r"[\u4e00-\u9fff]{4}", b) for b in beats)
    assert (tmp_path / "room.md").read_text(encoding="utf-8").startswith("# 聊天室：裕丰当丢了东西")
    help_ = run_cli("-m", "rag", "chatroom", "--help")
    assert help_.returncode == 0 and "--characters" in help_.stdout and "python -m rag chatroom" in help_.stdout


def test_a_character_says_the_books_answer_and_continues_a_scene(rp_settings, tmp_path):
    """roleplay_facts: a question about the book is answered by 书问's pipeline first; the reply keeps the answer
    and its chapter. --history: a scene written as `speaker：text` lines is continued."""
    from roleplay import store
    from tests.roleplay.conftest import detective

    store.save(rp_settings, detective())
    env = {"SHUWEN_STORE_DIR": str(rp_settings.store_dir)}
    out = run_cli("-m", "rag", "roleplay", "--novel", "青石镇奇案", "--name", "沈墨白", "沈先生，裕丰当的东家叫什么名字？",
                  "--json", env=env)
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert "钱有道" in reply["facts"]["answer"] and "钱有道" in reply["text"]
    assert reply["citations"] and "〔" not in reply["text"]  # the chapter goes to 出处, not into the voice
    scene = tmp_path / "scene.txt"
    scene.write_text("顾小满：先生，当铺的铁柜被人撬了。\n沈墨白：莫慌，带我去看看。\n顾小满：柜里的东西全没了！\n",
                     encoding="utf-8")
    out = run_cli("-m", "rag", "roleplay", "--novel", "青石镇奇案", "--name", "沈墨白", "--history", str(scene), "--json",
                  env=env)
    assert out.returncode == 0, out.stderr
    text = json.loads(out.stdout)["text"]
    assert re.search(r"[\u4e00-\u9fff]{2}", text) and not text.startswith(("顾小满", "沈墨白"))
