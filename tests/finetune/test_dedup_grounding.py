"""Duplicate questions and the grounding check."""

from finetune.dedup import dedup, similarity
from finetune.grounding import evidence_sentence, grounded, support
from finetune.qa import check_pair
from rag.ingest.chunking import Chunk

TEXT = "此山叫做灵台方寸山。山中有座斜月三星洞。那洞中有一个神仙，称名须菩提祖师。"


def test_exact_and_near_duplicates_are_dropped_and_distinct_questions_kept():
    qs = ["孙悟空的师父是谁？", "孙悟空的师父是谁?", "孫悟空的師父是誰？", "孙悟空的师父是谁呢？", "孙悟空的师父住在哪里？",
          "猪八戒原来是什么神仙？"]
    kept, dropped = dedup([{"q": q} for q in qs], key=lambda r: r["q"])
    assert [r["q"] for r in kept] == ["孙悟空的师父是谁？", "孙悟空的师父住在哪里？", "猪八戒原来是什么神仙？"]
    assert len(dropped) == 3


def test_similarity_is_symmetric_and_bounded():
    assert similarity("孙悟空的师父是谁", "孙悟空的师父是谁") == 1.0
    assert similarity("甲乙丙丁", "戊己庚辛") == 0.0
    assert similarity("孙悟空的师父", "悟空的师父是") == similarity("悟空的师父是", "孙悟空的师父")


def test_answers_must_be_supported_by_their_chunk():
    assert grounded("灵台方寸山", TEXT)
    assert grounded("斜月三星洞。", TEXT)  # punctuation does not matter
    assert not grounded("花果山水帘洞", TEXT)
    assert not grounded("", TEXT)
    assert 0 < support("须菩提老祖", TEXT) < 1


def test_evidence_is_the_sentence_holding_the_answer():
    assert evidence_sentence("须菩提祖师", TEXT) == "那洞中有一个神仙，称名须菩提祖师。"


def test_pair_checks_name_the_failure():
    chunk = Chunk("c1", TEXT, "西游记", 1, 1, "第一回", 0, len(TEXT), 0)
    assert check_pair("孙悟空的师父住在哪座山？", "灵台方寸山", chunk, 0.8) is None
    assert check_pair("孙悟空的师父住在哪座山？", "五行山", chunk, 0.8) == "not grounded"
    assert check_pair("灵台方寸山上住着谁？", "灵台方寸山", chunk, 0.8) == "answer in question"
    assert check_pair("？", "灵台方寸山", chunk, 0.8) == "empty"
