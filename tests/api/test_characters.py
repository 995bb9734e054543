"""Characters through the OpenAI-compatible API: model `novel/character`, the `messages` list as the scene (other
speakers named, the reader unnamed), the book's answer said in the character's voice with its 出处; over real HTTP,
a real store and embeddings, a fake chat model at the LLM boundary."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import make_app, serving
from tests.fakes import FakeBackend
from tests.roleplay.conftest import detective

NOVEL, WHO = "青石镇奇案", "沈墨白"
MODEL = f"{NOVEL}/{WHO}"


@pytest.fixture(scope="module")
def fake():
    # the book's answer first (roleplay_facts), then the character's voiced reply; then the next request's pair
    return FakeBackend(script=["钱有道。", "裕丰当的东家嘛，在下查过，是钱有道。"] * 2, rewrite=None, support=0.9)


@pytest.fixture(scope="module")
def url(api_settings, fake):
    from roleplay import store

    settings = api_settings.replace(roleplay_facts=True, room_beats=0)
    store.save(settings, detective())
    app, _ = make_app(settings, fake)
    with serving(app) as base:
        yield base


def test_a_character_is_a_model(client):
    models = {m.id: m.owned_by for m in client.models.list()}
    assert models[NOVEL] == "shuwen" and models[MODEL] == "shuwen-character"
    assert client.models.retrieve(MODEL).id == MODEL


def test_the_character_answers_the_scene_from_the_book(client, fake):
    messages = [{"role": "system", "content": "SYSTEM-LINE never shown"},
                {"role": "user", "name": "周伯年", "content": "沈先生请坐，镇上出了怪事。"},
                {"role": "assistant", "content": "周老爷请讲。"},
                {"role": "user", "content": "裕丰当的东家是谁？"}]
    resp = client.chat.completions.create(model=MODEL, messages=messages, temperature=0.3)
    assert resp.model == MODEL and resp.choices[0].message.content == "裕丰当的东家嘛，在下查过，是钱有道。"
    info = resp.model_extra["shuwen"]
    assert info["facts"]["answer"].startswith("钱有道") and info["citations"] == [2]
    assert info["passages"] and any("钱有道" in p["text"] for p in info["passages"])  # 出处 of the book's answer
    voiced = next(m for m in fake.prompts if "书里的答案" in m[-1]["content"])  # the voiced reply's prompt
    said = [(m["role"], m["content"]) for m in voiced]
    assert ("user", "周伯年：沈先生请坐，镇上出了怪事。") in said and ("assistant", "周老爷请讲。") in said
    assert "书里的答案：钱有道。" in voiced[-1]["content"] and fake.knobs[fake.prompts.index(voiced)][1] == 0.3
    assert not any("SYSTEM-LINE" in m["content"] for p in fake.prompts for m in p)  # the card makes the prompt
    # streamed: the same reply in OpenAI's chunks, the record in the last one
    chunks = list(client.chat.completions.create(model=MODEL, messages=messages[-1:], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "裕丰当的东家嘛，在下查过，是钱有道。"
    assert chunks[-1].model_extra["shuwen"]["citations"] == [2]


def test_unknown_and_bad_characters_get_the_right_status(url):
    def post(model: str, messages: list[dict]) -> httpx.Response:
        return httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": messages}, timeout=30)

    hello = [{"role": "user", "content": "你好"}]
    r = post(f"{NOVEL}/无名氏", hello)
    assert r.status_code == 404 and "无名氏" in r.json()["error"]["message"]
    assert post(f"没有这本书/{WHO}", hello).status_code == 404
    assert post(f"{NOVEL}/../{WHO}", hello).status_code == 400  # a name never reaches a path raw
    r = post(MODEL, [{"role": "user", "name": "周伯年：先生\n你", "content": "你好"}])  # a name forging a line
    assert r.status_code == 400 and "name" in r.json()["error"]["message"]
    r = post(MODEL, [*hello, {"role": "assistant", "content": "在下有礼。"}])
    assert r.status_code == 400 and "not answered" in r.json()["error"]["message"]
    assert httpx.get(url + f"/v1/models/{NOVEL}/无名氏").status_code == 404
