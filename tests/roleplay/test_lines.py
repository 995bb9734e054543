"""A character's own lines from the book (roleplay/lines.py), on the real 西游记."""

from roleplay.lines import own_lines, speakers
from tests.conftest import shared_file

WUKONG = ["孙悟空", "悟空", "行者", "孙行者", "大圣", "齐天大圣", "美猴王", "猴王"]


def test_own_lines_follow_the_speaker_and_skip_longer_names():
    text = "菩萨即命惠岸行者道：“你可快下天宫。”行者笑道：“师父莫怕。”八戒向行者道：“散伙罢！”行者闻言，道：“呆子休乱说！”"
    lines = own_lines(text, WUKONG)
    assert [ln.text for ln in lines] == ["师父莫怕。", "呆子休乱说！"]
    assert text[lines[0].start : lines[0].start + 6] == "“师父莫怕。"


def test_the_book_gives_each_pilgrim_many_lines():
    text = shared_file("corpus/xiyouji.txt").read_text(encoding="utf-8-sig")
    wukong = own_lines(text, WUKONG)
    bajie = own_lines(text, ["猪八戒", "八戒", "呆子", "猪悟能", "悟能"])
    assert len(wukong) > 2000 and len(bajie) > 500
    assert not {ln.start for ln in wukong} & {ln.start for ln in bajie}  # one speaker per line
    assert any("老孙" in ln.text for ln in wukong) and any("老猪" in ln.text for ln in bajie)
    top = [s for s, _ in speakers(text, 10)]
    assert {"行者", "八戒", "三藏", "沙僧"} <= set(top)
