"""A scene to continue (roleplay/scene.py): files of `speaker：text` or a chatroom's JSONL."""

import json

import pytest

from rag.errors import BadInputError
from roleplay.scene import as_history, read_scene

OWN = ("孙悟空", "悟空", "行者")


def test_a_scene_from_the_book_becomes_turns_and_a_message(tmp_path):
    f = tmp_path / "scene.txt"
    f.write_text("唐僧：悟空，前面是什么山？\n行者：师父，那是火焰山。\n\n八戒：热得很，俺不去了。\n你：大圣，你怎么办？\n",
                 encoding="utf-8")
    lines = read_scene(f)
    assert lines[1] == ("行者", "师父，那是火焰山。") and len(lines) == 4
    pairs, message = as_history(lines, OWN)
    assert pairs == [("唐僧：悟空，前面是什么山？", "师父，那是火焰山。")]  # only his own line is his turn
    assert message == "八戒：热得很，俺不去了。\n大圣，你怎么办？"  # the reader's own line without a label


def test_a_chatroom_transcript_continues(tmp_path):
    f = tmp_path / "room.jsonl"
    rows = [{"topic": "过火焰山"}, {"speaker": "孙悟空", "text": "老孙去借扇。"}, {"speaker": "猪八戒", "text": "俺看家。"}]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    pairs, message = as_history(read_scene(f), OWN)
    assert pairs == [("……", "老孙去借扇。")] and message == "猪八戒：俺看家。"


@pytest.mark.parametrize("text,says", [("随便写写没有冒号\n", "speaker：text"), ("", "holds no lines")])
def test_a_bad_scene_is_one_clear_error(tmp_path, text, says):
    f = tmp_path / "bad.txt"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(BadInputError, match=says):
        read_scene(f)
    with pytest.raises(BadInputError, match="not found"):
        read_scene(tmp_path / "none.txt")
    j = tmp_path / "bad.jsonl"
    j.write_text('{"speaker": 1}\n', encoding="utf-8")
    with pytest.raises(BadInputError, match="speaker"):
        read_scene(j)
