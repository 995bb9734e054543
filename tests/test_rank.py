"""The evidence ranker: question kinds, window features, the fitted model's choice on a tiny real store; the book card."""

import numpy as np
import pytest

from rag.kinds import asks_for, has_kind
from rag.rank import COARSE, FEATURES, RELATIVE, Book, as_evidence, load_weights, rank_windows, select
from rag.retrieve import Candidate, Passage


def test_question_kinds_and_what_a_window_of_that_kind_holds():
    assert asks_for("孙悟空拜的第一个师父住在哪里？") == "place"
    assert asks_for("蟠桃园一共有多少株蟠桃树？") == "number"
    assert asks_for("裕丰当的东家是谁？") == "person"
    assert asks_for("刘备是哪一年死的？") == "time"
    assert asks_for("这把扇子是什么颜色？") is None
    q = "沈墨白第一晚住在哪里？"
    assert has_kind("当晚住进了悦来客栈。", "place", q)
    assert not has_kind("沈墨白心里想着案子。", "place", q)
    assert has_kind("原来是钱有道。", "person", "东家是谁？", names={"钱有道", "沈墨白"})
    assert not has_kind("沈墨白来了。", "person", "沈墨白的东家是谁？", names={"钱有道", "沈墨白"})  # named in the question


def test_shipped_weights_match_the_features_and_say_what_they_were_fitted_on():
    w = load_weights()
    assert w["full"]["features"] == list(FEATURES) and w["coarse"]["features"] == list(COARSE)
    assert len(w["full"]["coef"]) == len(FEATURES) + len(RELATIVE)  # each relative feature enters twice
    assert w["fitted_on"]["books"] and "leave_one_book_out" in w
    assert not any("heldout" in path for path in w["fitted_on"]["books"].values())  # never a test split


def _book(text_tokens: list[str]) -> Book:
    return Book(lambda s: [t for t in text_tokens if t in s], {t: 3.0 for t in text_tokens}, frozenset({"钱有道"}))


def test_select_keeps_the_budget_no_overlap_and_puts_the_best_window_first():
    pool = [Candidate(Passage("甲说了话。乙去了青石镇。丙在家。", 1, "第一回", 0, 20, 0.5, "a"), {"fused": 0}, 0.8),
            Candidate(Passage("丁回到落霞岭古寺。戊睡了。", 2, "第二回", 20, 40, 0.4, "b"), {"fused": 1}, 0.7)]
    wins = rank_windows("乙去了哪里？", pool, _book(["乙", "去"]), None, None)
    assert all(set(w.features) >= set(FEATURES) for w in wins)
    chosen = select(wins, budget=12)
    assert sum(w.end - w.start for w in chosen) <= 12
    assert all(not (a.row == b.row and a.start < b.end and b.start < a.end) for a in chosen for b in chosen if a is not b)
    ev = as_evidence(chosen, pool)
    assert "青石镇" in ev[0].text  # the window that names the asker's subject and holds a place comes first
    assert select(wins, budget=600, max_windows=1) == [max(wins, key=lambda w: w.score)]
    assert max(sum(w.row == r for w in select(wins, budget=600)) for r in (0, 1)) <= 2  # two windows a passage at most


def test_the_coarse_model_decides_whose_sentences_are_embedded():
    pool = [Candidate(Passage(f"第{i}段说了些话。这里没有别的。", 1, "第一回", 0, 20, 0.5, str(i)), {"fused": i}, 0.5)
            for i in range(6)]
    pool.append(Candidate(Passage("乙去了青石镇。", 1, "第一回", 0, 20, 0.5, "x"), {"fused": 6, "bm25": 0}, 0.9))
    embedded: list[str] = []

    def embed_passages(texts):
        embedded.extend(texts)
        return np.ones((len(texts), 4))

    wins = rank_windows("乙去了哪里？", pool, _book(["乙", "去"]), lambda q: np.ones(4), embed_passages, 2)
    assert {w.row for w in wins} <= {0, 1, 2, 3, 4, 5, 6} and len({w.row for w in wins}) == 2
    assert 6 in {w.row for w in wins}  # the passage that names the subject and a place is kept
    assert "乙去了青石镇。" in embedded and len(embedded) == 3  # only the kept passages' sentences


TINY = """第一回　雨夜
沈墨白那一夜没有睡着，坐在窗前听雨，想着白天当铺门前的血迹，又想起师父临终的话。小满在隔壁打着呼噜，睡得很香。窗外的更夫敲过了三更，巷子里一片漆黑，只有远处一盏灯笼在风里晃。

第二回　渡口
第二天一早，沈墨白带着小满出了镇子，一路往南，走了二十里山路，到了黑水峡的渡口。渡口边拴着一条旧船，船上的老人说这里已经三年没人来过了。
沈墨白问起当年的事，老人只是摇头，说那年的大水冲走了半个村子。
"""


@pytest.fixture(scope="module")
def tiny_asker(tmp_path_factory):
    from rag.answer import Asker
    from rag.index.build import build_index
    from rag.settings import load_settings

    d = tmp_path_factory.mktemp("tiny")
    (d / "tiny.txt").write_text(TINY, encoding="utf-8")
    s = load_settings(env={}, store_dir=d / "chroma", chunk_size=80, chunk_overlap=10, context_chars=60,
                      evidence_windows=1, window_ranker="learned", evidence_pool=20)
    build_index(s, d / "tiny.txt", "tiny", progress=False)
    return Asker(s, "tiny")


def test_the_ranker_picks_the_window_that_holds_the_asked_for_kind(tiny_asker):
    from rag.answer import Answer

    for question, wanted in [("沈墨白带着小满去了哪里？", "黑水峡"), ("沈墨白带着小满走了多少里路？", "二十里")]:
        res = Answer(question, question)
        tiny_asker.prepare(question, None, res)
        assert len(res.pool) >= 3  # the windows come from the whole pool, not the top few
        assert wanted in res.evidence[0].text, (question, [p.text for p in res.evidence])
        assert res.sources and res.sources[0].chunk_id == res.evidence[0].chunk_id  # 出处 = where the evidence is from


def test_the_book_card_lists_the_most_mentioned_character_first(tmp_path_factory, sample_master):
    from rag.answer import Answer, Asker
    from rag.bookcard import about_whole_book, chapter_number
    from rag.settings import load_settings
    from tests.conftest import sample_store

    assert about_whole_book("这个故事的主人公是谁？") and about_whole_book("第三回讲了什么？")
    assert not about_whole_book("裕丰当的东家是谁？")
    assert chapter_number("第十四回讲了什么") == 14 and chapter_number("第3章") == 3 and chapter_number("一百二十回") is None
    s = load_settings(env={}, store_dir=sample_store(sample_master, tmp_path_factory.mktemp("c") / "chroma"))
    asker = Asker(s, "青石镇奇案")
    res = Answer("这个故事的主人公是谁？", "这个故事的主人公是谁？")
    asker.prepare(res.question, None, res)
    card = res.evidence[0]
    assert card.chunk_id == "book-card" and card.text.index("沈墨白") < card.text.index("孙老四")
    assert res.evidence == [card] and res.sources  # who the book is about: the card alone; 出处 still the passages
    res2 = Answer("第三回讲了什么？", "第三回讲了什么？")
    asker.prepare(res2.question, None, res2)
    assert "少年寻踪落霞岭" in res2.evidence[0].text  # the chapter's own title
    early = Asker(s.replace(read_to="第一回"), "青石镇奇案")
    res3 = Answer("这个故事的主人公是谁？", "这个故事的主人公是谁？")
    early.prepare(res3.question, None, res3)
    assert res3.evidence[0].chunk_id == "book-card" and "沈墨白" in res3.evidence[0].text
    assert "林远舟" not in res3.evidence[0].text and "林远舟" in card.text  # first met in 第四回: no spoiler
    plain = Answer("裕丰当的东家是谁？", "裕丰当的东家是谁？")
    asker.prepare(plain.question, None, plain)
    assert all(p.chunk_id != "book-card" for p in plain.evidence)
