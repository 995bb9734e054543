"""Script-format dialogue parsing and validated prose extraction."""

import json

from finetune.common import read_jsonl
from finetune.dialogue import check_line, extract_dialogues, parse_script, script_pairs
from rag.ingest.chunking import Chunk

SCRIPT = """第一幕　御花园
（春日，御花园里百花盛开。）
皇帝：朕听闻你名唤嬛嬛？
甄嬛（低头）：回皇上，臣妾小字嬛嬛。
 嬛嬛出自《诗经》。
华妃: 哼，不过是个小答应。
甄嬛：娘娘说得是。
第二幕　碎玉轩
甄嬛：槿汐，今日可有人来过？
槿汐：“回小主，温太医来过。”
甄嬛：请他进来。
"""


def test_script_lines_become_turns_with_actions_and_scenes():
    turns = parse_script(SCRIPT)
    assert [(t.role, t.scene) for t in turns] == [("皇帝", 1), ("甄嬛", 1), ("华妃", 1), ("甄嬛", 1), ("甄嬛", 2),
                                                  ("槿汐", 2), ("甄嬛", 2)]
    assert turns[1].action == "低头" and turns[1].line == "回皇上，臣妾小字嬛嬛。"
    assert turns[5].line == "回小主，温太医来过。"  # quotes stripped


def test_pairs_are_previous_line_to_target_reply_within_a_scene():
    pairs = script_pairs(parse_script(SCRIPT), "甄嬛", ["嬛嬛"])
    assert [(p["input"], p["output"]) for p in pairs] == [
        ("朕听闻你名唤嬛嬛？", "回皇上，臣妾小字嬛嬛。"),
        ("哼，不过是个小答应。", "娘娘说得是。"),
        ("回小主，温太医来过。", "请他进来。")]
    assert pairs[0]["speaker"] == "皇帝" and pairs[0]["group"] != pairs[2]["group"]


def test_consecutive_lines_of_one_speaker_are_one_turn():
    turns = parse_script("甲：你好。\n乙：一。\n乙：二。\n")
    assert [(t.role, t.line) for t in turns] == [("甲", "你好。"), ("乙", "一。二。")]


TEXT = "祖师道：“你是那方人氏？”猴王道：“弟子乃东胜神洲傲来国花果山水帘洞人氏。”祖师喝令：“赶出去！”"
NAMES = {"孙悟空", "猴王", "悟空"}


def test_extracted_lines_are_checked_against_the_text():
    ok = {"speaker": "猴王", "line": "弟子乃东胜神洲傲来国花果山水帘洞人氏。", "reply_to": "你是那方人氏？"}
    assert check_line(ok, NAMES, TEXT) is None
    assert check_line({**ok, "speaker": "祖师"}, NAMES, TEXT) == "other speaker"
    assert check_line({**ok, "line": "俺老孙来也！"}, NAMES, TEXT) == "not in the text"
    assert check_line({**ok, "reply_to": ""}, NAMES, TEXT) == "no line it answers"
    assert check_line({**ok, "reply_to": "你从哪里来？"}, NAMES, TEXT) == "answered line not in the text"


def test_prose_extraction_keeps_valid_unique_lines_and_resumes(tmp_path):
    chunks = [Chunk(f"c{i}", TEXT, "西游记", 1, 1, "第一回", 0, len(TEXT), i) for i in range(2)]
    chunks.append(Chunk("c9", "天地之数，有十二万九千六百岁为一元。", "西游记", 1, 1, "第一回", 0, 10, 9))
    calls = []

    def teacher(messages):
        calls.append(messages)
        return json.dumps([
            {"speaker": "猴王", "line": "弟子乃东胜神洲傲来国花果山水帘洞人氏。", "reply_to": "你是那方人氏？",
             "reply_speaker": "祖师"},
            {"speaker": "祖师", "line": "赶出去！", "reply_to": "", "reply_speaker": ""}], ensure_ascii=False)

    out = tmp_path / "d.jsonl"
    stats = extract_dialogues(chunks, "西游记", "孙悟空", ["猴王", "悟空"], teacher, out, progress=False)
    assert len(calls) == 2  # the chunk without the role or any speech is not sent to the model
    assert stats["kept"] == 1 and stats["duplicates"] == 1 and stats["rejected"] == 2
    rec = read_jsonl(out)[0]
    assert rec["input"] == "你是那方人氏？" and rec["chunk_id"] == "c0"
    again = extract_dialogues(chunks, "西游记", "孙悟空", ["猴王", "悟空"], teacher, out, progress=False)
    assert len(calls) == 2 and again["kept"] == 1
