import pytest

from rag.errors import ShuWenError
from rag.generate.prompter import Prompter, chapter_label, zh_number
from rag.generate.repair import complete_numbers, find_loop, repair, trim_unfinished
from rag.retrieve import Passage


def test_zh_numbers_and_labels():
    assert [zh_number(n) for n in (8, 14, 20, 100, 101, 120)] == ["八", "十四", "二十", "一百", "一百零一", "一百二十"]
    assert chapter_label(14, "第十四回　心猿归正　六贼无踪") == "第十四回"
    assert chapter_label(8, "附录　陈光蕊赴任逢灾") == "附录"
    assert chapter_label(3, "") == "第三回"


def test_templates_are_data_and_ordered_for_prefix_cache(tmp_path):
    p = Prompter("default")
    msgs = p.messages("西游记", "谁？", [Passage("原文", 14, "第十四回　心猿归正", 0, 2, 1.0, "x")])
    assert msgs[0]["role"] == "system" and "西游记" in msgs[0]["content"] and "〔第十四回〕" in msgs[0]["content"]
    assert "[1]〔第十四回〕原文" in msgs[1]["content"] and msgs[1]["content"].endswith("问题：谁？")
    assert p.refusal
    (tmp_path / "t.json").write_text('{"system": "s"}', encoding="utf-8")
    with pytest.raises(ShuWenError, match="lacks"):
        Prompter(str(tmp_path / "t.json"))
    with pytest.raises(ShuWenError, match="not found"):
        Prompter("no-such-template")


def test_repair_stops_loops_and_trims():
    looped = "孙悟空是石猴。" + "他很厉害。" * 6
    assert find_loop(looped) is not None
    assert repair(looped) == "孙悟空是石猴。他很厉害。"
    assert trim_unfinished("答案是花果山。〔第一回〕他又说") == "答案是花果山。〔第一回〕"  # citation kept
    assert trim_unfinished("花果山") == "花果山"
    assert repair("孫悟空住在花果山。", t2s=True) == "孙悟空住在花果山。"


def test_a_number_copied_with_a_character_missing_is_restored_from_the_passages():
    evidence = "那老鼋道：我修行了一千三百余年。又有小儿一千一百一十一个。三百两银子，一千三百两"
    assert complete_numbers("老鼋修行了千三百余年。", evidence) == "老鼋修行了一千三百余年。"
    assert complete_numbers("要用一千一百一十个小儿。", evidence) == "要用一千一百一十一个小儿。"
    assert complete_numbers("赏了三百两。", evidence) == "赏了三百两。"  # stands alone in the passages
    assert complete_numbers("赏了二百两。", evidence) == "赏了二百两。"  # in no passage number
    assert complete_numbers("一千三", "一千三百两，一千三百余年") == "一千三百"  # one longer run, used twice
    assert complete_numbers("一百", "一百一十，一百二十") == "一百"  # ambiguous: left alone


def test_worked_examples_are_earlier_turns_between_the_system_message_and_the_question():
    p = Prompter("concise_fewshot")
    msgs = p.messages("青石镇奇案", "裕丰当的东家是谁？", [Passage("东家钱有道。", 2, "第二回", 0, 6, 1.0, "x")])
    assert [m["role"] for m in msgs] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert msgs[-1]["content"].endswith("问题：裕丰当的东家是谁？\n回答：") and "东家钱有道。" in msgs[-1]["content"]
    assert msgs[2]["content"] == "柳青〔第三回〕" and msgs[6]["content"] == p.refusal  # a name; the refusal
    assert all("原文片段：" in m["content"] for m in msgs[1:-1:2])  # each example asked as a question is asked
    assert Prompter("concise").messages("x", "q", [])[1]["role"] == "user"  # no examples, no extra turns
    check = p.check("青石镇奇案", "裕丰当的东家是谁？", [Passage("东家钱有道。", 2, "第二回", 0, 6, 1.0, "x")])
    assert check[:-1] == msgs[:-1]  # the check shares the examples, so llama.cpp keeps them cached between prompts
    assert check[-1]["content"] != msgs[-1]["content"] and "东家钱有道。" in check[-1]["content"]


def test_an_answer_copied_from_a_worked_example_is_caught():
    p = Prompter("concise_fewshot")
    evidence = "顾小满是沈墨白的徒弟，跟着师父走江湖。"
    assert p.borrowed("云梦山下，父母是良田三百亩、家丁四十二人。", "顾小满的老家在哪里？" + evidence) == "云梦山"
    assert p.borrowed("沈墨白的徒弟〔第五回〕", "顾小满是谁？" + evidence) == ""  # the book's words
    assert p.borrowed(p.refusal, "") == ""  # the refusal is no example's content
    assert Prompter("concise").borrowed("良田三百亩", "") == ""  # no examples, nothing to borrow
