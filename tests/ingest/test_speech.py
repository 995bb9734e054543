"""Who says what in the book: quoted speech attributed to a name (行者笑道：“……”), on the real 西游记."""

from rag.ingest.speech import answered_lines, own_lines, speakers
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


def test_answered_lines_pair_the_line_said_before_with_the_characters_reply():
    text = ("第一回\n三藏道：“徒弟，前面是甚么山？”行者笑道：“师父莫怕，等老孙去看。”行者又道：“兄弟们看好行李。”"
            "八戒向行者道：“哥啊，你去罢。”行者道：“呆子休懒！”\n第二回\n沙僧道：“大哥。”" + "走" * 10
            + "\n第三回\n行者道：“我来也。”")
    pairs = answered_lines(text, WUKONG)
    assert [(p["speaker"], p["input"], p["output"]) for p in pairs] == [
        ("三藏", "徒弟，前面是甚么山？", "师父莫怕，等老孙去看。"),  # his second line answers his own first: left out
    ]  # 八戒向行者道 names him (could be him): left out; 沙僧 speaks in another chapter


def test_the_book_gives_wukong_thousands_of_dialogue_pairs():
    text = shared_file("corpus/xiyouji.txt").read_text(encoding="utf-8-sig")
    pairs = answered_lines(text, WUKONG)
    own = {ln.text for ln in own_lines(text, WUKONG)}
    assert len(pairs) > 1500
    assert all(p["output"] in own and p["input"] not in own for p in pairs[:200])
    assert sum(p["speaker"] in ("三藏", "八戒", "沙僧", "唐僧") for p in pairs) > 300  # mostly answering the others
