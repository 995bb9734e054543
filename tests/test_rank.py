"""Ranking the evidence's candidates in the question's slot (rag/rank.py), and the pipeline path that uses it."""

from rag.rank import best, candidates, find_slot, statement


def test_the_slot_is_where_the_answer_stands_when_the_question_is_said_back():
    s = find_slot("孙悟空脚上那双藕丝步云履是哪位龙王送的？")
    assert (s.kind, statement(s, "北海龙王")) == ("name", "孙悟空脚上那双藕丝步云履是北海龙王送的。")
    s = find_slot("王母娘娘的蟠桃园一共有多少株蟠桃树？")
    assert (s.kind, statement(s, "三千六百株")) == ("number", "王母娘娘的蟠桃园一共有三千六百株蟠桃树。")
    s = find_slot("那个渔翁叫什么名字？")
    assert (s.kind, statement(s, "张稍")) == ("name", "那个渔翁叫张稍。")
    assert find_slot("孙悟空拜的第一个师父住在哪里？").kind == "place"
    assert find_slot("比丘国国丈献给国王的美后，本相是什么？").kind == "thing"
    assert find_slot("他为什么要离开？") is None


def test_candidates_are_of_the_asked_kind_from_the_evidence_not_the_question():
    ev = "那北海龙王敖顺道：“我有一双藕丝步云履哩。”蟠桃园共有三千六百株，前面一千二百株。"
    assert candidates(ev, "有多少株蟠桃树？", "number", set()) == ["三千六百株", "一千二百株"]
    names = candidates(ev, "步云履是哪位龙王送的？", "name", {"北海龙王", "西游"})  # the novel's discovered words
    assert "北海龙王" in names and "敖顺" in names and "步云履" not in names and "西游" not in names


def test_the_best_candidate_must_lead():
    assert best({"敖顺": -1.0, "敖闰": -3.0}) == "敖顺"
    assert best({"敖顺": -1.0, "敖闰": -1.5}, margin=1.0) is None
    assert best({}) is None
