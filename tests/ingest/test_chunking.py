import pytest

from rag.ingest import load_novel
from rag.ingest.clean import clean_span
from tests.conftest import shared_file


@pytest.mark.parametrize("name", ["xiyouji", "sanguo"])
def test_offsets_point_at_the_source(name):
    novel = load_novel(shared_file(f"corpus/{name}.txt"))
    original = shared_file(f"corpus/{name}.txt").read_text(encoding="utf-8-sig")
    assert novel.original == original
    for c in novel.chunks:
        assert clean_span(original[c.start:c.end]) == c.text


def test_chunk_sizes_ids_and_chapter_bounds():
    novel = load_novel(shared_file("corpus/xiyouji.txt"), chunk_size=600, chunk_overlap=100)
    ids = [c.chunk_id for c in novel.chunks]
    assert len(ids) == len(set(ids))
    assert all(len(c.text) <= 600 for c in novel.chunks)
    bounds = {ch.index: (ch.lines[0].start, ch.lines[-1].end) for ch in novel.chapters}
    for c in novel.chunks:
        lo, hi = bounds[c.chapter_index]
        assert lo <= c.start < c.end <= hi  # never across a chapter boundary
    # consecutive chunks of a chapter overlap (sentences repeated), but not by more than the setting
    pairs = [(a, b) for a, b in zip(novel.chunks, novel.chunks[1:]) if a.chapter_index == b.chapter_index]
    overlaps = [a.end - b.start for a, b in pairs if a.end > b.start]
    assert overlaps and max(overlaps) <= 100 + 20  # + indentation removed from the span
    again = load_novel(shared_file("corpus/xiyouji.txt"))
    assert [c.chunk_id for c in again.chunks] == ids  # stable content hashes
