"""The http backend against a real `chroma run` server on 127.0.0.1."""

import pytest

from rag.errors import StoreError
from rag.index.build import build_index
from rag.index.store import Library
from rag.retrieve import vector_search
from tests.conftest import SAMPLE, chroma_run, free_port


@pytest.fixture
def chroma_server(tmp_path):
    with chroma_run(tmp_path / "server-data") as port:
        yield port


@pytest.mark.slow
def test_build_and_retrieve_through_the_server(settings, chroma_server):
    s = settings.replace(store_backend="http", chroma_port=chroma_server)
    res = build_index(s, SAMPLE, "样书", progress=False)
    assert res.embedded == res.manifest.chunks
    assert build_index(s, SAMPLE, "样书", progress=False).up_to_date
    hits = vector_search(s, "样书", "沈墨白是做什么的？", k=4)
    assert len(hits) == 4 and all(h.chapter >= 1 for h in hits)
    assert [m.name for m in Library(s).manifests()] == ["样书"]
    assert not s.store_dir.exists()  # nothing went to the local folder


def test_unreachable_server_is_a_clear_error(settings):
    s = settings.replace(store_backend="http", chroma_port=free_port())
    with pytest.raises(StoreError, match="chroma run"):
        Library(s)
