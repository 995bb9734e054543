"""Malformed JSON from the model: extraction, schema validation, retries with backoff."""

import pytest

from finetune.jsonout import MalformedOutput, ask_json, extract_json, validate

SCHEMA = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["question", "answer"],
    "properties": {"question": {"type": "string", "minLength": 4}, "answer": {"type": "string", "minLength": 1}}}}


@pytest.mark.parametrize("reply", [
    '[{"question": "谁住在水帘洞？", "answer": "美猴王"}]',
    '好的！\n```json\n[{"question": "谁住在水帘洞？", "answer": "美猴王"}]\n```\n希望有帮助。',
    '题目如下：[{"question": "谁住在水帘洞？", "answer": "美猴王"},] 以上。',
])
def test_json_is_found_in_chatty_replies(reply):
    assert validate(extract_json(reply), SCHEMA) == [{"question": "谁住在水帘洞？", "answer": "美猴王"}]


@pytest.mark.parametrize("reply, problem", [
    ("我不知道。", "no JSON"),
    ('[{"question": "谁住在水帘洞？"}]', "answer"),
    ('[{"question": "谁住在水帘洞？", "answer": 3}]', "0/answer"),
    ("[]", "top level"),
    ('{"question": "谁住在水帘洞？", "answer": "美猴王"}', "top level"),
])
def test_bad_replies_are_named(reply, problem):
    with pytest.raises(MalformedOutput, match=problem):
        validate(extract_json(reply), SCHEMA)


def test_retries_show_the_error_and_back_off_exponentially():
    replies = iter(["不是JSON", '[{"question": "缺答案"}]', '[{"question": "谁住在水帘洞？", "answer": "美猴王"}]'])
    seen, slept = [], []

    def complete(messages):
        seen.append(messages)
        return next(replies)

    got = ask_json(complete, [{"role": "user", "content": "出题"}], SCHEMA, lambda e: f"错误：{e}", retries=3,
                   backoff=0.5, sleep=slept.append)
    assert got[0]["answer"] == "美猴王"
    assert slept == [0.5, 1.0]
    assert seen[1][-2] == {"role": "assistant", "content": "不是JSON"}
    assert seen[1][-1]["content"].startswith("错误：no JSON")
    assert "answer" in seen[2][-1]["content"]


def test_gives_up_after_the_last_retry():
    calls = []
    with pytest.raises(MalformedOutput, match="after 3 tries"):
        ask_json(lambda m: calls.append(m) or "???", [{"role": "user", "content": "x"}], SCHEMA, str, retries=2,
                 sleep=lambda s: None)
    assert len(calls) == 3


def test_the_qa_template_accepts_one_object_as_a_one_item_list():
    from finetune.prompter import DataPrompter

    schema = DataPrompter("qa").schema
    assert validate({"question": "谁住在水帘洞？", "answer": "美猴王"}, schema)
    with pytest.raises(MalformedOutput):
        validate({"question": "谁住在水帘洞？"}, schema)
