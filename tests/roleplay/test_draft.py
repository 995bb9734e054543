"""Drafting a card from the book without a model: aliases from the character's own first-person word."""

from rag.aliases import discover_aliases
from rag.ingest.speech import lines_by_speaker
from roleplay.draft import aliases_in_book
from tests.conftest import shared_file


def test_speakers_are_folded_to_their_names():
    text = "行者道：“我去也。”那行者笑道：“老孙来了。”行者暗想道：“怪哉。”八戒道：“等我。”" * 3
    said = lines_by_speaker(text)
    assert set(said) == {"行者", "八戒"} and len(said["行者"]) == 9


def test_the_first_person_word_finds_the_characters_other_names():
    others = "".join(f"{who}道：“我听说了。”" for who in ("龙王", "土地", "山神", "国王", "太子", "老者", "樵夫",
                                                             "八戒", "沙僧", "三藏", "菩萨", "老君"))
    text = ("大圣道：“老孙去也。”行者道：“老孙来了。”悟空道：“老孙在此。”" + others) * 12
    found = discover_aliases(text, "老孙")
    assert {r["name"] for r in found} == {"大圣", "行者", "悟空"}
    assert discover_aliases(text, "我") == []  # twelve speakers say it: nobody's own word
    assert discover_aliases(text, "") == []
    assert aliases_in_book(text, "孙悟空", [r["name"] for r in found] + ["美猴王"]) == ["大圣", "行者", "悟空"]


def test_on_xiyouji_each_pilgrims_word_names_him_and_nobody_else():
    text = shared_file("corpus/xiyouji.txt").read_text(encoding="utf-8-sig")
    names = {ref: {r["name"] for r in discover_aliases(text, ref)} for ref in ("老孙", "老猪", "贫僧", "我")}
    assert {"行者", "大圣", "悟空"} <= names["老孙"] and not names["老孙"] & {"八戒", "三藏", "沙僧"}
    assert "八戒" in names["老猪"] and not names["老猪"] & {"行者", "三藏", "沙僧"}
    assert {"三藏", "唐僧"} <= names["贫僧"] and not names["贫僧"] & {"行者", "八戒", "菩萨"}
    assert names["我"] == set()  # everyone says 我
