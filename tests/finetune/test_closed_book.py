"""`python -m rag eval --closed-book`: the model answers with no passages, asked like the fine-tuning data."""

from finetune.export import qa_system
from rag.evaluate import closed_book_answerer, run_eval
from tests.fakes import FakeBackend


def test_closed_book_asks_without_passages_in_the_training_prompt(monkeypatch, settings):
    fake = FakeBackend("灵台方寸山〔第一回〕", rewrite=None)
    monkeypatch.setattr("rag.generate.backends.get_backend", lambda s: fake)
    items = [{"id": "a", "question": "孙悟空的师父住在哪座山？", "answers": ["灵台方寸山"], "evidence": ["x"],
              "kind": "generated", "answerable": True},
             {"id": "b", "question": "猪八戒的兵器是什么？", "answers": ["九齿钉钯"], "evidence": ["y"],
              "kind": "generated", "answerable": True}]
    report = run_eval(items, lambda q: [], 5, closed_book_answerer(settings, "西游记"), progress=False)
    assert report["metrics"]["overall"]["accuracy"] == 0.5
    system, user = fake.prompts[0]
    assert system == {"role": "system", "content": qa_system("西游记")}
    assert user == {"role": "user", "content": "孙悟空的师父住在哪座山？"}
