"""Alias groups from the book, no model: first-person words and courtesy names; query expansion."""

from rag.aliases import alias_groups, as_the_book_says, courtesy_groups, expand, self_word_groups
from tests.conftest import shared_file


def test_courtesy_names_group_a_person_when_the_book_uses_both():
    text = "刘备，姓刘，名备，字玄德。" + "玄德曰：“善。”刘备大喜。刘玄德到。" * 3 + "又有一人，姓张，名飞，字翼德。"
    assert courtesy_groups(text) == [{"刘备", "玄德", "刘玄德"}]  # 张飞 is never used again: no group


def test_a_later_courtesy_name_is_the_one_kept():
    text = "其人曰：“吾姓关名羽，字长生，后改云长。”" + "云长曰：“诺。”关羽上马。关云长到。" * 3
    assert courtesy_groups(text) == [{"关羽", "云长", "关云长"}]


def test_the_short_form_needs_the_book_to_call_the_man_by_it():
    used = "刘表曰：“可。”景升大喜。刘景升到。郭嘉曰：“可。”奉孝笑。郭奉孝到。刘理至。" * 3
    text = "荆州刘表，字景升。" + "次子刘理，字奉孝。" + used  # 奉孝 is 郭嘉's; 刘理 is never 刘奉孝
    assert courtesy_groups(text) == [{"刘表", "景升", "刘景升"}]


def test_a_shared_first_person_word_groups_the_speakers_who_own_it():
    others = "".join(f"{who}道：“我听说了。”" for who in ("龙王", "土地", "山神", "国王", "太子", "老者", "樵夫",
                                                             "八戒", "沙僧", "三藏", "菩萨", "老君"))
    text = ("大圣道：“老孙去也。”行者道：“老孙来了。”行者道：“走罢。”" + others) * 30
    assert self_word_groups(text) == [{"大圣", "行者"}]


def test_expansion_adds_the_other_names_with_their_weight():
    groups = [["大圣", "悟空", "行者"], ["八戒", "呆子"]]
    assert expand(["孙悟空", "金箍棒"], groups, 0.5) == {"孙悟空": 1.0, "金箍棒": 1.0, "大圣": 0.5, "悟空": 0.5,
                                                         "行者": 0.5}
    assert expand(["八戒"], groups, 0.0) == {"八戒": 1.0}
    assert expand(["唐僧"], groups, 0.5) == {"唐僧": 1.0}


def test_the_two_books_give_their_known_groups():
    xyj = alias_groups(shared_file("corpus/xiyouji.txt").read_text(encoding="utf-8-sig"))
    assert {"行者", "大圣", "悟空"} <= set(next(g for g in xyj if "行者" in g))
    assert {"三藏", "唐僧"} <= set(next(g for g in xyj if "三藏" in g))
    assert not any({"行者", "八戒"} <= set(g) or {"行者", "三藏"} <= set(g) for g in xyj)  # companions stay apart
    sg = alias_groups(shared_file("corpus/sanguo.txt").read_text(encoding="utf-8-sig", errors="replace"))
    assert ["刘备", "刘玄德", "玄德"] in sg and ["孟德", "曹孟德", "曹操"] in sg and ["孔明", "诸葛亮", "诸葛孔明"] in sg
    assert ["云长", "关云长", "关羽"] in sg and ["刘景升", "刘表", "景升"] in sg
    assert not any({"刘理", "郭嘉"} & set(g) == {"刘理", "郭嘉"} for g in sg)


def test_the_question_is_said_again_as_the_book_names_the_character():
    groups = [["大圣", "悟空", "猴王", "行者"]]
    idf = {"行者": 1.0, "大圣": 3.0, "悟空": 3.5, "猴王": 4.0, "师父": 2.0}  # 行者: the commonest name in the book
    assert as_the_book_says("孙悟空拜的师父住在哪里？", ["孙悟空", "师父", "住"], groups, idf) == "行者拜的师父住在哪里？"
    assert as_the_book_says("八戒在哪里？", ["八戒"], groups, idf) == "八戒在哪里？"


def test_hybrid_search_adds_the_books_naming_of_the_question(tmp_path, sample_master):
    from rag.retrieve import Retriever
    from rag.settings import load_settings
    from tests.conftest import sample_store

    class Watched(Retriever):
        def _vector_ranking(self, question, *args, **kwargs):
            self.asked.append(question)
            return super()._vector_ranking(question, *args, **kwargs)

    s = load_settings(env={}, store_dir=sample_store(sample_master, tmp_path / "chroma"))
    for weight, asked in ((0.5, ["裕丰当的东家是谁？", "裕丰当的掌柜是谁？"]), (0.0, ["裕丰当的东家是谁？"])):
        r = Watched(s.replace(alias_vector=weight), "青石镇奇案")
        r.asked = []
        r.lexical().aliases = [["东家", "掌柜"]]  # the sample shows no alias group itself; 掌柜 is the commoner word
        assert r.search("裕丰当的东家是谁？")
        assert r.asked == asked
