"""The answering contract: one Passage, one Answer, one Backend protocol for every answerer and every test."""

from rag.contract import Answer, Backend, Passage
from tests.fakes import FakeBackend


def test_the_fake_and_the_real_backend_class_keep_the_protocol():
    from rag.generate.backends import ChatBackend

    assert isinstance(FakeBackend(), Backend)
    assert all(callable(getattr(ChatBackend, m)) for m in ("stream", "complete", "choice_probs"))


def test_an_answer_is_json_with_its_sources():
    p = Passage("东家钱有道。", 2, "第二回", 0, 6, 0.9, "c1")
    a = Answer("裕丰当的东家是谁？", "裕丰当的东家是谁？", "钱有道〔第二回〕", sources=[p], citations=[2])
    assert a.to_dict()["sources"] == [p.to_dict()] and a.to_dict()["citations"] == [2]


def test_the_fake_scripts_gates_and_checks():
    fake = FakeBackend(script=["甲。", "乙。"], rewrite=None, needs="钱")
    assert fake.complete([{"role": "user", "content": "x"}]) == "甲。"
    assert "".join(fake.stream([])) == "乙。" and "".join(fake.stream([])) == "嗯。"  # then the script's end
    assert fake.choice_probs([{"role": "user", "content": "钱有道"}], ["有", "没有"])["有"] == 0.9
    assert fake.choice_probs([{"role": "user", "content": "无"}], ["有", "没有"])["有"] == 0.1
