"""QA generation bookkeeping (resume, malformed chunks) and persona Q&A."""

import json

import pytest

from finetune.common import read_jsonl
from finetune.persona import clean_answer, generate_persona, load_profile, persona_system
from finetune.qa import generate_qa, side_files
from rag.errors import BadInputError
from rag.ingest.chunking import Chunk
from tests.finetune.conftest import FakeTeacher

TEXTS = ["此山叫做灵台方寸山。山中有座斜月三星洞。那洞中有一个神仙，称名须菩提祖师。",
         "那猴王得了金箍棒，回到花果山水帘洞，众猴都来朝拜。",
         "悟空又驾筋斗云，来到南天门外，见增长天王领着马赵温关四大天将。"]


def _chunks():
    return [Chunk(f"c{i}", t, "西游记", i + 1, i + 1, f"第{i + 1}回", 0, len(t), 0) for i, t in enumerate(TEXTS)]


def test_an_interrupted_run_continues_where_it_stopped(tmp_path):
    out = tmp_path / "qa.jsonl"
    teacher = FakeTeacher()

    def dies_on_third_chunk(messages):
        if TEXTS[2] in messages[1]["content"]:
            raise KeyboardInterrupt
        return teacher(messages)

    with pytest.raises(KeyboardInterrupt):
        generate_qa(_chunks(), "西游记", dies_on_third_chunk, out, progress=False, sleep=lambda s: None)
    assert len(read_jsonl(side_files(out)[2])) == 2
    calls_before = teacher.calls
    stats = generate_qa(_chunks(), "西游记", teacher, out, progress=False, sleep=lambda s: None)
    assert teacher.calls - calls_before == 2  # only the third chunk, malformed once then answered
    assert stats["chunks"] == 3 and {p["chunk_id"] for p in read_jsonl(out)} == {"c0", "c1", "c2"}


def test_a_chunk_that_never_yields_json_is_recorded_and_skipped(tmp_path):
    out = tmp_path / "qa.jsonl"
    stats = generate_qa(_chunks()[:1], "西游记", lambda m: "抱歉。", out, retries=1, progress=False, sleep=lambda s: None)
    assert stats["malformed_chunks"] == 1 and stats["kept"] == 0 and read_jsonl(out) == []


PROFILE = {"name": "孙悟空", "aliases": ["悟空", "齐天大圣"], "identity": "美猴王", "personality": "急躁",
           "style": "直爽", "first_person": "俺老孙"}


def test_persona_answers_are_sampled_in_character_and_deduplicated(tmp_path):
    replies = iter([{"answer": "孙悟空：俺老孙乃齐天大圣！"}, {"answer": "俺老孙乃齐天大圣！"}, "坏掉了",
                    {"answer": "俺是花果山美猴王。"}] + [{"answer": f"俺老孙第{i}次说。"} for i in range(10)])
    prompts = []

    def teacher(messages):
        prompts.append(messages)
        r = next(replies)
        return r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)

    out = tmp_path / "p.jsonl"
    stats = generate_persona(PROFILE, ["你是谁？", "你怕什么？"], teacher, out, samples=2, progress=False,
                             sleep=lambda s: None)
    recs = read_jsonl(out)
    assert stats["answers"] == 4 and stats["duplicates"] == 1 and stats["kept"] == 3
    assert recs[0]["answer"] == "俺老孙乃齐天大圣！" and recs[0]["system"] == persona_system(PROFILE)
    assert "俺老孙" in prompts[0][0]["content"] and "你是谁？" in prompts[0][1]["content"]
    assert stats["in_voice"] == 2


def test_profile_needs_every_field(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"name": "唐僧"}), encoding="utf-8")
    with pytest.raises(BadInputError, match="first_person"):
        load_profile(p)
    assert clean_answer("悟空：好。", PROFILE) == "好。"


def test_window_mode_asks_one_question_per_window_and_accepts_a_bare_object(tmp_path):
    from finetune.qa import windows

    text = TEXTS[0] * 3
    ws = windows(text, 40)
    assert "".join(ws) == text and all(len(w) >= 13 for w in ws)
    asked = []

    def teacher(messages):
        asked.append(messages[1]["content"])
        return '{"question": "孙悟空的师父住在哪座山？", "answer": "灵台方寸山"}'

    chunk = Chunk("c0", text, "西游记", 1, 1, "第一回", 0, len(text), 0)
    stats = generate_qa([chunk], "西游记", teacher, tmp_path / "qa.jsonl", per_chunk=2, window=40, progress=False)
    assert len(asked) == 2 and ws[0] in asked[0] and ws[1] in asked[1]
    assert stats["pairs_valid"] == 2 and stats["kept"] == 1  # the same question twice is one pair
    replies = iter(["不知道", '{"question": "孙悟空的师父住在哪座山？", "answer": "灵台方寸山"}'])
    stats = generate_qa([chunk], "西游记", lambda m: next(replies), tmp_path / "qa2.jsonl", per_chunk=2, window=40,
                        retries=0, progress=False)
    assert stats["rejected: malformed window"] == 1 and stats["kept"] == 1
