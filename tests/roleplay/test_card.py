"""Character Card V2 read/write (roleplay/card.py): JSON and PNG round trips, V1 upgrade, lore, macros."""

import base64
import json

import pytest

from rag.errors import BadInputError
from roleplay.card import (
    SPEC,
    active_lore,
    blank_png,
    names,
    new_card,
    normalize,
    png_text,
    read_card,
    shuwen,
    substitute,
    write_card,
)

SILLYTAVERN_CARD = {  # as SillyTavern exports it: V1 mirror at the root, V2 under data, its own extensions
    "name": "孙悟空", "description": "齐天大圣", "personality": "", "scenario": "", "first_mes": "俺老孙来也！",
    "mes_example": "", "creatorcomment": "", "avatar": "none", "talkativeness": "0.5", "fav": False, "tags": [],
    "spec": "chara_card_v2", "spec_version": "2.0",
    "data": {"name": "孙悟空", "description": "齐天大圣，{{char}}护送唐僧西行。", "personality": "机敏好斗",
             "scenario": "", "first_mes": "俺老孙来也！{{user}}，有何事？", "mes_example": "<START>\n{{user}}: 你是谁？\n{{char}}: 俺是齐天大圣！",
             "creator_notes": "never sent to a model", "system_prompt": "", "post_history_instructions": "",
             "alternate_greetings": ["师父莫怕！"], "tags": ["西游记"], "creator": "", "character_version": "1",
             "extensions": {"talkativeness": "0.5", "fav": False, "world": "", "depth_prompt": {"prompt": "", "depth": 4}},
             "character_book": {"name": "lore", "entries": [
                 {"keys": ["金箍棒"], "content": "如意金箍棒，重一万三千五百斤。", "enabled": True, "insertion_order": 2,
                  "extensions": {"probability": 100}, "id": 0, "comment": ""},
                 {"keys": ["紧箍"], "content": "紧箍儿咒。", "enabled": True, "insertion_order": 1, "selective": True,
                  "secondary_keys": ["唐僧", "师父"], "extensions": {}},
                 {"keys": [], "content": "花果山水帘洞。", "enabled": True, "insertion_order": 0, "constant": True,
                  "extensions": {}},
                 {"keys": ["蟠桃"], "content": "off", "enabled": False, "insertion_order": 3, "extensions": {}}]}},
    "create_date": "2026-12-1",
}


def test_sillytavern_card_round_trips_through_json_and_png(tmp_path):
    card = normalize(SILLYTAVERN_CARD)
    assert card["data"]["extensions"]["depth_prompt"] == {"prompt": "", "depth": 4}  # unknown keys kept
    assert card["data"]["character_book"]["entries"][0]["extensions"] == {"probability": 100}
    shuwen(card)["aliases"] = ["悟空", "行者"]
    for suffix in (".json", ".png"):
        path = write_card(card, tmp_path / f"card{suffix}")
        back = read_card(path)
        assert back == card
    png = (tmp_path / "card.png").read_bytes()
    raw = json.loads(base64.b64decode(png_text(png)["chara"]))  # what SillyTavern reads back
    assert raw["spec"] == SPEC and raw["data"]["name"] == "孙悟空" and raw["data"]["extensions"]["shuwen"]["aliases"]
    again = write_card(read_card(path), tmp_path / "again.png", image=png)  # re-embedding replaces, not appends
    assert list(png_text(again.read_bytes())) == ["chara"]


def test_v1_cards_are_upgraded_and_defaults_filled():
    card = normalize({"name": "八戒", "description": "天蓬元帅", "first_mes": "俺老猪饿了"})
    d = card["data"]
    assert card["spec"] == SPEC and d["first_mes"] == "俺老猪饿了" and d["alternate_greetings"] == []
    assert shuwen(card)["novel"] == "" and d["extensions"]["shuwen"]["aliases"] == []
    c = new_card("沙悟净", description="卷帘大将", shuwen={"aliases": ["沙僧", "悟净"], "self_ref": "老沙"})
    assert names(c) == ["沙悟净", "沙僧", "悟净"] and shuwen(c)["self_ref"] == "老沙"


@pytest.mark.parametrize("bad", [[], "card", {"data": {"name": ""}}, {"data": {"name": "x", "tags": "a"}},
                                 {"data": {"name": "x", "description": 3}}, {"data": []},
                                 {"data": {"name": "x", "character_book": {"entries": [{"keys": "k"}]}}}])
def test_bad_cards_get_one_clear_error(bad):
    with pytest.raises(BadInputError):
        normalize(bad)


def test_bad_files_get_one_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="no character card"):
        read_card(blank_png(4, 4))
    with pytest.raises(BadInputError, match="not a character card"):
        read_card(b"\xff\xfe not json")


def test_macros_and_lore():
    card = normalize(SILLYTAVERN_CARD)
    assert substitute(card["data"]["first_mes"], "孙悟空", "施主") == "俺老孙来也！施主，有何事？"
    assert substitute("<BOT> and <user> and {{ CHAR }}", "甲", "乙") == "甲 and 乙 and 甲"
    fired = [e["content"] for e in active_lore(card, "你的金箍棒有多重？")]
    assert fired == ["花果山水帘洞。", "如意金箍棒，重一万三千五百斤。"]  # constant first by insertion order
    assert "紧箍儿咒。" not in [e["content"] for e in active_lore(card, "紧箍是什么")]  # selective: needs 师父/唐僧
    assert "紧箍儿咒。" in [e["content"] for e in active_lore(card, "师父念紧箍")]
    assert all(e["content"] != "off" for e in active_lore(card, "蟠桃"))
