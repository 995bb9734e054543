"""The spoiler guard (rag/spoiler.py): parse how far a reader has read, cut the book there, hold back later answers."""

import pytest

from rag.answer import Asker
from rag.errors import BadInputError, ShuWenError
from rag.spoiler import NOT_YET, ReadTo, cutoff, parse_read_to
from tests.conftest import sample_store
from tests.fakes import FakeBackend

SILVER = "最后从山洞里清点出多少官银？"  # told in 第八回
OWNER = "裕丰当的东家是谁？"  # told in 第二回


@pytest.mark.parametrize("text,expected", [
    ("第12回", ReadTo(chapter=12)), ("12", ReadTo(chapter=12)), ("第十二回", ReadTo(chapter=12)),
    ("第一百回", ReadTo(chapter=100)), ("chapter 7", ReadTo(chapter=7)), ("Ch.7", ReadTo(chapter=7)),
    ("１２", ReadTo(chapter=12)), ("40%", ReadTo(percent=40.0)), ("12.5％", ReadTo(percent=12.5)),
    ("", None), ("全书", None), ("100%", None), (None, None)])
def test_parse_read_to(text, expected):
    assert parse_read_to(text) == expected


@pytest.mark.parametrize("bad", ["abc", "第回", "0", "-3", "150%", "0%", "第12页"])
def test_bad_read_to_is_one_clear_error(bad):
    with pytest.raises(BadInputError, match="read_to"):
        parse_read_to(bad)


def test_settings_check_read_to_up_front():
    from rag.settings import load_settings

    with pytest.raises(ShuWenError, match="read_to"):
        load_settings(env={"SHUWEN_READ_TO": "soon"})


def test_cutoff_follows_reading_order_not_chapter_numbers():
    # (seq, chapter number, chapter_index): 西游记's 附录 is numbered 8 and sits between 第八回 and 第九回
    book = [(0, 1, 0), (1, 1, 0), (2, 8, 1), (3, 8, 2), (4, 9, 3), (5, 9, 3), (6, 10, 4)]
    assert cutoff(ReadTo(chapter=8), book) == 3  # 第八回 and its 附录
    assert cutoff(ReadTo(chapter=1), book) == 1
    assert cutoff(ReadTo(chapter=5), book) == 1  # no 第五回: through the last chapter before it
    assert cutoff(ReadTo(chapter=10), book) is None and cutoff(ReadTo(chapter=99), book) is None
    assert cutoff(ReadTo(percent=50), book) == 2
    assert cutoff(None, book) is None
    assert cutoff(ReadTo(chapter=1), [(0, 3, 0)]) == -1  # nothing readable yet


@pytest.fixture(scope="module")
def settings(tmp_path_factory, sample_master):
    from rag.settings import load_settings

    return load_settings(env={}, store_dir=sample_store(sample_master, tmp_path_factory.mktemp("sp") / "chroma"))


def test_retrieval_stops_at_the_readers_chapter(settings):
    from rag.retrieve import Retriever

    r = Retriever(settings, "青石镇奇案")
    cut = cutoff(ReadTo(chapter=3), r.positions())
    for mode in ("hybrid", "vector", "bm25"):
        hits = r.search(SILVER, 5, mode, max_seq=cut)
        assert hits and all(p.chapter <= 3 for p in hits), mode
    assert any(p.chapter == 8 for p in r.search(SILVER, 5))  # without the guard the answer's chapter is found
    assert r.readable_end(cut) < r.readable_end(cutoff(ReadTo(chapter=4), r.positions()))


@pytest.mark.slow
def test_a_later_answer_is_held_back_and_an_earlier_one_answered(settings):
    fake = FakeBackend("清点出官银七万六千两。", needs="七万六千")
    res = Asker(settings.replace(read_to="第三回"), "青石镇奇案", backend=fake).ask(SILVER)
    assert res.answer == NOT_YET and res.not_yet and "七万六千" not in res.answer
    assert all(p.chapter <= 3 for p in res.sources + res.evidence) and not res.citations
    assert len(fake.checks) == 2  # the reader's part, then the whole book (never shown to the model)
    full = Asker(settings, "青石镇奇案", backend=fake).ask(SILVER)
    assert "七万六千两" in full.answer and not full.not_yet
    early = Asker(settings.replace(read_to="3"), "青石镇奇案", backend=FakeBackend("钱有道。", needs="钱有道")).ask(OWNER)
    assert early.answer.startswith("钱有道") and early.citations == [2] and not early.not_yet


def test_a_question_the_book_never_answers_is_a_refusal_not_a_spoiler_warning(settings):
    fake = FakeBackend("随便说说。", needs="从来没有的字")
    res = Asker(settings.replace(read_to="第三回"), "青石镇奇案", backend=fake).ask("沈墨白的师父叫什么名字？")
    assert res.answer == "书中没有明确提到。" and not res.not_yet
