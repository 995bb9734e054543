"""Citations decided from the evidence the model was shown, never from the model's memory."""

from rag.cite import anchors, by_the_question, cite, key_overlap, source_of
from rag.retrieve import Passage


def P(text: str, chapter: int, title: str) -> Passage:
    return Passage(text, chapter, title, 0, len(text), 0.5, f"c{chapter}")


EVIDENCE = [P("掌柜的姓胡，叫胡德茂，是个笑面人。", 1, "第一回 渡口"), P("便是裕丰当的东家钱有道，人称钱掌柜。", 2, "第二回 当铺")]


def test_the_answers_new_words_pick_the_passage():
    assert key_overlap("裕丰当的东家是钱有道。", "裕丰当的东家是谁？", EVIDENCE[1].text) == "钱有道"
    assert key_overlap("是孙悟空。", "谁？", EVIDENCE[1].text) == ""  # one shared character is no evidence
    assert key_overlap("东家是，人。", "东家是谁？", EVIDENCE[1].text) == ""  # nor one character and a comma
    assert source_of("裕丰当的东家是钱有道。", "裕丰当的东家是谁？", EVIDENCE) is EVIDENCE[1]
    assert source_of("客栈老板是胡德茂。", "客栈老板是谁？", EVIDENCE) is EVIDENCE[0]


def test_a_citation_from_memory_is_replaced_and_a_missing_one_added():
    assert cite("裕丰当的东家是钱有道〔第九十回〕。", "裕丰当的东家是谁？", EVIDENCE) == ("裕丰当的东家是钱有道。〔第二回〕",
                                                                          EVIDENCE[1])
    assert cite("是胡德茂", "客栈老板叫什么？", EVIDENCE) == ("是胡德茂〔第一回〕", EVIDENCE[0])


def test_nothing_in_the_evidence_means_no_citation():
    assert cite("是太上老君〔第五回〕。", "谁炼的丹？", EVIDENCE) == ("是太上老君。", None)
    assert cite("〔第二回〕", "？", EVIDENCE) == ("〔第二回〕", None)


def test_the_answer_must_come_from_a_window_about_the_question():
    horse = "赤兔马死的时候有多少岁？"
    elsewhere = [P("却说关公在麦城，……时年五十八岁。", 77, "第七十七回"), P("赤兔马被马忠所得。", 77, "第七十七回")]
    assert not by_the_question("赤兔马死的时候有五十八岁。", horse, elsewhere)  # 五十八 is 关公's age
    told = [P("赤兔马被马忠所得，不食草料而死，时年五十八岁。", 77, "第七十七回")]
    assert by_the_question("赤兔马死的时候有五十八岁。", horse, told)
    assert not by_the_question("是玉皇大帝。", horse, told)  # nothing of the answer stands there at all
    # another name of the character the question names ties the window to it; two asking characters do not
    village = [P("玄德祖居楼桑村。", 1, "第一回")]
    assert "在哪" not in anchors("刘备住在哪个村子？")
    assert not by_the_question("楼桑村。", "刘备住在哪个村子？", village)
    assert by_the_question("楼桑村。", "刘备住在哪个村子？", village, aliases=[["刘备", "玄德"]])
    # the book card is about the whole book, whatever the question's words
    card = [P("书中出场最多的人物：沈墨白（113次）", 0, "全书")]
    assert by_the_question("沈墨白。", "这个故事的主人公是谁？", card)
