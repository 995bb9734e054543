"""Building, incremental updates, the manifest check and the model mismatch error — real model, real Chroma."""

import shutil

import pytest

from rag.errors import StoreError
from rag.index.build import build_index
from rag.index.store import Library
from rag.retrieve import vector_search
from tests.conftest import SAMPLE


@pytest.fixture
def novel_copy(tmp_path):
    path = tmp_path / "青石镇奇案.txt"
    shutil.copy(SAMPLE, path)
    return path


@pytest.mark.slow
def test_build_rerun_and_incremental_update(settings, novel_copy):
    first = build_index(settings, novel_copy, "样书", progress=False)
    assert first.embedded == first.manifest.chunks > 20
    assert first.manifest.chapters >= 8

    again = build_index(settings, novel_copy, "样书", progress=False)
    assert again.up_to_date and again.embedded == 0

    text = novel_copy.read_text(encoding="utf-8")
    marker = "这一夜，镇东头的老槐树下忽然多了一口朱漆箱子，箱上刻着“癸卯年三月初七”七个小字，无人认得来历。"
    idx = text.index("。", text.index("第三回") + 800) + 1  # inside a paragraph of chapter 3
    changed = text[:idx] + marker + text[idx:]
    novel_copy.write_text(changed, encoding="utf-8")
    upd = build_index(settings, novel_copy, "样书", progress=False)
    assert 0 < upd.embedded <= 3  # only the chunks around the edit
    assert upd.reused >= first.manifest.chunks - 3
    assert upd.removed >= 1  # the chunk(s) that the edit replaced are gone
    hits = vector_search(settings, "样书", "老槐树下的朱漆箱子上刻着什么日子？", k=3)
    assert any("癸卯年三月初七" in h.text for h in hits)
    top = next(h for h in hits if "癸卯年三月初七" in h.text)
    assert changed[top.start:top.end].replace("　", "").replace("\n", "") == top.text.replace("\n", "")

    lib = Library(settings)
    assert [m.name for m in lib.manifests()] == ["样书"]
    assert lib.collection(lib.manifest("样书")).count() == upd.manifest.chunks
    # the previous build's collection has been dropped
    assert sum(1 for c in lib._collection_names() if c.startswith("nv_")) == 1


@pytest.mark.slow
def test_a_reader_opens_a_store_with_the_model_it_was_built_with(settings, novel_copy):
    """The settings' embedding model is for new builds: a reader embeds questions as the store's chunks were."""
    from rag.index.e5_onnx import ensure_model
    from rag.retrieve import Retriever

    build_index(settings, novel_copy, "样书", progress=False)
    other = settings.replace(embedding_model=str(ensure_model(settings.cache_dir) / "hf"), embedding_precision="fp32")
    r = Retriever(other, "样书")
    assert r.emb.model_id == r.manifest.embedding_model == settings.embedding_model
    assert vector_search(other, "样书", "沈墨白是谁？") == vector_search(settings, "样书", "沈墨白是谁？")


def test_missing_store_says_how_to_build(settings):
    with pytest.raises(StoreError, match="gen_chroma.py --novel"):
        vector_search(settings, "没有这本书", "问题")


@pytest.mark.slow
def test_builder_and_reader_share_settings(tmp_path, novel_copy, monkeypatch):
    """Env-configured store path and model reach both sides: no silent empty retrieval."""
    from rag.settings import load_settings

    env = {"SHUWEN_STORE_DIR": str(tmp_path / "elsewhere"), "SHUWEN_K": "2"}
    s = load_settings(env=env)
    build_index(s, novel_copy, "样书", progress=False)
    hits = vector_search(load_settings(env=env), "样书", "沈墨白")
    assert len(hits) == 2


@pytest.mark.slow
def test_a_second_build_of_the_same_novel_waits_for_the_first(settings, novel_copy):
    import threading

    from rag.index.build import build_lock

    build_index(settings, novel_copy, "样书", progress=False)
    done = threading.Event()

    def rebuild():
        build_index(settings, novel_copy, "样书", rebuild=True, progress=False)
        done.set()

    with build_lock(settings, "样书"):  # a build in progress holds this lock
        lib = Library(settings)
        inflight = lib.new_collection("样书")  # … and is writing its unpublished collection
        worker = threading.Thread(target=rebuild)
        worker.start()
        worker.join(timeout=3)
        assert not done.is_set()  # the second build waits instead of sweeping
        assert inflight.name in [c if isinstance(c, str) else c.name for c in lib.client.list_collections()]
    worker.join(timeout=300)
    assert done.is_set()
    m = Library(settings).require("样书")
    assert Library(settings).collection(m).count() == m.chunks  # the finished build is live and complete


@pytest.mark.slow
def test_concurrent_builds_leave_one_complete_store(settings, novel_copy):
    import threading

    errors = []

    def run():
        try:
            build_index(settings, novel_copy, "样书", rebuild=True, progress=False)
        except Exception as e:  # collected: an exception in a thread would otherwise vanish
            errors.append(e)

    workers = [threading.Thread(target=run) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    assert not errors
    m = Library(settings).require("样书")
    assert Library(settings).collection(m).count() == m.chunks


@pytest.mark.slow
def test_a_chapter_posted_twice_is_embedded_once_and_retrieved_once(settings, tmp_path):
    from rag.retrieve import Retriever

    text = SAMPLE.read_text(encoding="utf-8")
    second = text[text.index("第二回") : text.index("第三回")]
    book = tmp_path / "网文.txt"  # web-novel style: the same chapter posted again later, word for word
    book.write_text(text[: text.index("第三回")] + second.replace("第二回", "第二回（重发）", 1) +
                    text[text.index("第三回") :], encoding="utf-8")
    res = build_index(settings, book, "网文", progress=False)
    ids = Library(settings).collection(res.manifest).get()["ids"]
    assert len(ids) == len(set(ids)) == res.manifest.chunks  # every copy stored under its own id
    hits = Retriever(settings, "网文").search("裕丰当的东家是谁？", 5)
    texts = [h.text for h in hits]
    assert len(hits) == 5 and len(set(texts)) == 5 and any("钱有道" in t for t in texts)


def test_a_manifest_of_another_format_is_migrated_or_refused():
    from rag.index.store import SCHEMA, Manifest

    fields = {"name": "书", "collection": "nv_x_1", "embedding_model": "m", "embedding_dim": 384,
              "embedding_precision": "int8-vnni", "chunk_size": 600, "chunk_overlap": 100, "chunker": "c",
              "source_path": "/x.txt", "source_sha256": "0", "encoding": "utf-8", "chapters": 1, "chunks": 2,
              "chars": 3, "built_at": 0.0, "build_seconds": 0.0}
    old = Manifest.from_dict(fields)  # written before manifests had a schema
    assert old.schema == SCHEMA and old.embedding_precision == "int8-vnni"
    assert Manifest.from_dict({**fields, "schema": SCHEMA, "a_later_field": 1}).name == "书"  # unknown keys ignored
    with pytest.raises(StoreError, match="newer"):
        Manifest.from_dict({**fields, "schema": SCHEMA + 1})
