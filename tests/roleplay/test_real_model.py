"""Roleplay on the real bundled model, as a reader runs it: draft a card from the book, then talk to it."""

import json
import re

from tests.conftest import run_cli


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
