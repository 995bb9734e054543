import numpy as np

from rag.lexical import BM25Index, NovelTokenizer, discover_words
from rag.retrieve import rrf
from tests.conftest import shared_file


def test_discovers_names_jieba_does_not_know():
    text = shared_file("corpus/xiyouji.txt").read_text(encoding="utf-8-sig")[:200000]
    words = discover_words(text)
    assert {"花果山", "水帘洞", "美猴王"} <= set(words)
    plain, novel = NovelTokenizer(), NovelTokenizer(words)
    assert "美猴王" in novel.tokens("那美猴王享乐天真")
    assert "什么" not in novel.tokens("美猴王住在什么地方？")  # question words carry no content
    assert plain.tokens("x") == ["x"]


def test_bm25_prefers_rare_matching_terms():
    docs = [["孙悟空", "花果山"], ["孙悟空", "唐僧"], ["猪八戒", "高老庄", "孙悟空"]]
    idx = BM25Index.build(docs)
    s = idx.scores(["高老庄", "孙悟空"])
    assert int(np.argmax(s)) == 2
    assert idx.scores(["不存在"]).sum() == 0


def test_rrf_rewards_agreement():
    fused = rrf([["a", "b", "c"], ["b", "a", "d"], ["b"]])
    assert [cid for cid, _ in fused][:2] == ["b", "a"]
