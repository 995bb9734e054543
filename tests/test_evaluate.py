import json

import pytest

from rag.errors import BadInputError
from rag.evaluate import (
    all_evidence_hit,
    answer_correct,
    first_hit_rank,
    is_refusal,
    load_qa,
    run_eval,
)
from rag.retrieve import Passage

ITEM = {"id": "x", "question": "q", "answers": ["灵台方寸山"], "evidence": ["灵台方寸山"],
        "evidence_offsets": [[100, 105]], "kind": "where", "answerable": True}


def P(text, start, end):
    return Passage(text, 1, "第一回", start, end, 0.5, f"{start}")


def test_hits_by_text_or_offsets():
    assert first_hit_rank([P("无关", 0, 50), P("此山叫做灵台方寸山", 300, 320)], ITEM) == 2
    assert first_hit_rank([P("无关", 90, 101)], ITEM) == 1  # span overlap counts
    assert first_hit_rank([P("无关", 105, 200)], ITEM) is None  # [start, end) touching is no overlap
    multi = {**ITEM, "evidence": ["甲", "乙"], "evidence_offsets": [[0, 1], [500, 501]]}
    assert not all_evidence_hit([P("甲", 0, 10)], multi)
    assert all_evidence_hit([P("甲", 0, 10), P("乙", 495, 510)], multi)


def test_answer_and_refusal_scoring():
    assert answer_correct("住在靈臺方寸 山。", ITEM)  # Traditional and spaces are normalised
    assert not answer_correct("住在花果山。", ITEM)
    assert answer_correct("隔了20年。", {"answers": ["二十年"]})
    assert answer_correct("共3600株", {"answers": ["三千六百株"]})
    assert answer_correct("一共76000两", {"answers": ["七万六千两"]})
    assert answer_correct("1111个", {"answers": ["一千一百一十一个"]})
    assert not answer_correct("隔了21年。", {"answers": ["二十年"]})
    assert is_refusal("书中没有明确提到。") and is_refusal("原文未提及此事")
    assert not is_refusal("他住在花果山。")


def test_run_eval_and_qa_errors(tmp_path):
    rep = run_eval([ITEM], lambda q: [P("灵台方寸山", 0, 5)], 5, progress=False)
    assert rep["metrics"]["overall"]["hit@5"] == 1.0
    assert rep["records"][0]["retrieved"][0]["text"] == "灵台方寸山"
    rep = run_eval([ITEM, {**ITEM, "id": "u", "answerable": False, "answers": [], "kind": "unanswerable"}],
                   lambda q: [], 5, answer=lambda q: ("书中没有明确提到。", [], {"total_s": 1.0}), progress=False)
    assert rep["metrics"]["overall"]["accuracy"] == 0.0 and rep["metrics"]["overall"]["refusal"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\nnot json\n', encoding="utf-8")
    with pytest.raises(BadInputError, match=":2: not valid JSON"):
        load_qa(bad)
    with pytest.raises(BadInputError, match="no such QA file"):
        load_qa(tmp_path / "missing.jsonl")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(ITEM, ensure_ascii=False) + "\n", encoding="utf-8")
    assert load_qa(good)[0]["answerable"] is True


def test_each_wrong_answer_is_put_down_to_the_stage_that_lost_it():
    from rag.evaluate import lost_at

    item = {**ITEM, "answers": ["菩提祖师"]}
    hit, miss = "灵台方寸山，斜月三星洞，洞里有个菩提祖师", "花果山水帘洞"
    assert lost_at(item, "是太上老君。", [miss], [miss]) == "retrieval"
    assert lost_at(item, "是太上老君。", [miss, hit], ["斜月三星洞"]) == "compaction"
    assert lost_at(item, "书中没有明确提到。", [hit], [hit]) == "refusal"
    assert lost_at(item, "是须菩提。", [hit], [hit]) == "reading"
    assert lost_at(item, "是须菩提。", [hit], None) == "reading"  # no record of what was shown: the passages

    def answer(q):
        return "是太上老君。", [P(hit, 0, len(hit))], {"total_s": 1.0}, {"shown": [P("斜月三星洞", 0, 5).to_dict()]}

    rep = run_eval([item], lambda q: [], 5, answer=answer, progress=False)
    rec, overall = rep["records"][0], rep["metrics"]["overall"]
    assert rec["lost_at"] == "compaction" and rec["shown"][0]["text"] == "斜月三星洞"
    assert (overall["lost_retrieval"], overall["lost_compaction"], overall["lost_refusal"],
            overall["lost_reading"]) == (0, 1, 0, 0)


def test_a_withheld_answer_is_lost_at_grounding_only_when_it_was_right():
    item = {**ITEM, "answers": ["菩提祖师"]}
    hit = "灵台方寸山，斜月三星洞，洞里有个菩提祖师"
    withheld = iter(["是菩提祖师。", "是太上老君。", ""])

    def answer(q):
        return "书中没有明确提到。", [P(hit, 0, len(hit))], {"total_s": 1.0}, {"ungrounded": next(withheld)}

    rep = run_eval([{**item, "id": str(i)} for i in range(3)], lambda q: [], 5, answer=answer, progress=False)
    assert [r["lost_at"] for r in rep["records"]] == ["grounding", "reading", "refusal"]
    overall = rep["metrics"]["overall"]
    assert (overall["lost_grounding"], overall["withheld"]) == (1, 2)


def test_citation_rates_count_answers_that_say_something():
    item = {**ITEM, "chapter": [1]}
    replies = iter([("灵台方寸山。〔第一回〕", [1]), ("灵台方寸山。〔第二回〕", [2]), ("方寸山", []),
                    ("书中没有明确提到。", [])])

    def answer(q):
        reply, chapters = next(replies)
        return reply, [], {"total_s": 1.0}, {"citations": chapters}

    rep = run_eval([{**item, "id": str(i)} for i in range(4)], lambda q: [], 5, answer=answer, progress=False)
    overall = rep["metrics"]["overall"]
    assert overall["cited"] == round(2 / 3, 3)  # the refusal is not counted
    assert overall["cited_right"] == 0.5


def test_spoiler_guard_scores_later_items_apart():
    from rag.spoiler import NOT_YET

    early = {**ITEM, "id": "early", "question": "早"}
    late = {**ITEM, "id": "late", "question": "晚", "evidence_offsets": [[9000, 9005]]}
    leaked = {**ITEM, "id": "leaked", "question": "漏", "evidence_offsets": [[100, 105], [9000, 9005]]}
    replies = {"早": "灵台方寸山。", "晚": NOT_YET, "漏": "在灵台方寸山。"}
    rep = run_eval([early, late, leaked], lambda q: [], 5, progress=False, read_end=5000,
                   answer=lambda q: (replies[q], [P("灵台方寸山", 0, 5)], {}))
    o = rep["metrics"]["overall"]
    assert o["accuracy"] == 1.0 and o["hit@5"] == 1.0  # only the item the reader can already know counts
    assert o["beyond_read_to"] == 2 and o["held_back"] == 0.5 and o["spoiled"] == 1
    assert run_eval([late], lambda q: [], 5, progress=False)["metrics"]["overall"]["hit@5"] == 0.0  # no guard


def test_shown_hit_scores_the_evidence_the_model_was_shown():
    from rag.evaluate import summarise

    items = [ITEM, {**ITEM, "id": "y", "kind": "who", "answers": ["须菩提"]}]
    shown = {"q": [{"text": "此山叫做灵台方寸山。"}]}

    def answer(q):  # a fake answerer: the pool holds the evidence, the shown windows hold only the first answer
        return "不知道", [P("灵台方寸山……须菩提祖师", 100, 105)], {}, {"shown": shown["q"]}

    rep = run_eval(items, lambda q: [], 20, answer=answer, progress=False)
    recs = {r["id"]: r for r in rep["records"]}
    assert recs["x"]["shown_hit"] is True and recs["y"]["shown_hit"] is False
    assert recs["y"]["lost_at"] == "compaction"  # in the pool, not in what the model read
    m = summarise(rep["records"], 20)
    assert m["overall"]["shown_hit"] == 0.5 and m["overall"]["hit@20"] == 1.0
    assert m["by_kind"]["where"]["shown_hit"] == 1.0 and m["by_kind"]["who"]["shown_hit"] == 0.0
