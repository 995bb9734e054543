"""Cloze reading data: masks on single sentences, then the generator on the sample novella's real store."""

from __future__ import annotations

import pytest

from finetune.cloze import book_places, main, masks
from finetune.common import read_jsonl
from finetune.export import main as export_main
from finetune.train import load_conversations
from rag.generate.prompter import Prompter
from tests.conftest import sample_store


def test_masks_put_the_wh_word_in_the_spans_place_and_skip_dialogue():
    got = {k: (s, q) for k, s, q in masks("沈墨白当晚住进了悦来客栈，一夜无话。", ["沈墨白"], {"悦来客栈"})}
    assert got["person"] == ("沈墨白", "谁当晚住进了悦来客栈，一夜无话？")
    assert got["place"] == ("悦来客栈", "沈墨白当晚住进了哪里，一夜无话？")
    number = masks("却说那库里共有银子三千两，都被人盗了去。", [], set())
    assert number == [("number", "三千两", "库里共有银子多少两，都被人盗了去？")]  # opener 却说那 dropped
    assert masks("沈墨白道：“钱有道在哪里？”", ["沈墨白", "钱有道"], set()) == []  # dialogue
    assert masks("他买了一个馒头，吃得很香甜。", [], set()) == []  # 一个 is "a", not a count
    every = masks("周伯年把那四十两银子交给沈墨白，转身回了青石镇。", ["周伯年", "沈墨白"], {"青石镇"})
    assert {k for k, _, _ in every} == {"number", "person", "place"}
    assert all(span not in question and question.endswith("？") for _, span, question in every)


def test_book_places_are_the_books_own_words_with_a_place_ending():
    words = {"青石镇": 12, "悦来客栈": 2, "沈墨白": 40, "落霞岭": 5, "高山": 9, "x山": 4}
    assert book_places(words, ["沈墨白"]) == {"青石镇", "落霞岭", "高山"}


@pytest.fixture(scope="module")
def cloze_data(sample_master, tmp_path_factory):
    root = tmp_path_factory.mktemp("cloze")
    store = sample_store(sample_master, root / "chroma")
    out = root / "cloze.jsonl"
    assert main(["--name", "青石镇奇案", "--store", str(store), "--items", "30", "--out", str(out), "--seed", "1",
                 "--per-chunk", "4"]) == 0
    return root, read_jsonl(out)


@pytest.mark.slow
def test_cloze_items_hold_the_span_once_in_the_gold_window_and_never_in_the_question(cloze_data):
    _, recs = cloze_data
    assert len(recs) >= 15
    assert {r["meta"]["kind"] for r in recs} >= {"person", "number"}
    refusal = Prompter("concise").refusal
    for r in recs:
        m = r["meta"]
        assert m["span"] not in m["question"]
        assert m["question"] in r["input"]  # the answer prompt, as rag.answer builds it
        shown = r["input"].split("问题：")[0]
        if m["gold"]:
            assert m["window"].count(m["span"]) == 1 and m["window"] in shown
            assert shown.count(m["span"]) == 1
            assert r["output"].startswith(m["span"]) and r["output"].endswith("〕")
        else:
            assert m["span"] not in shown and r["output"] == refusal
        assert m["distractors"] and m["chunk_id"] not in m["distractors"]  # distractors come from the retriever
    assert 0 < sum(not r["meta"]["gold"] for r in recs) < len(recs) / 2


@pytest.mark.slow  # trains a tiny model
def test_cloze_data_passes_the_kits_export_and_training_loader(cloze_data):
    root, recs = cloze_data
    out = root / "export"
    assert export_main([str(root / "cloze.jsonl"), "--out", str(out), "--val-fraction", "0.2"]) == 0
    convs = load_conversations(out / "messages.train.jsonl") + load_conversations(out / "messages.val.jsonl")
    assert len(convs) == len(recs)
    assert all([m["role"] for m in c] == ["system", "user", "assistant"] for c in convs)


def test_cloze_refuses_a_novel_file_without_a_store(tmp_path, capsys):
    assert main(["--novel", "corpus/青石镇奇案.txt", "--out", str(tmp_path / "x.jsonl"), "--store",
                 str(tmp_path / "chroma")]) != 0
    assert "built store" in capsys.readouterr().err
