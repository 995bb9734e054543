"""`python -m rag serve` on the real bundled model: a streamed answer through the openai SDK, and two
readers at once get their own answers (no crossed answers, the second one queued)."""

from __future__ import annotations

import concurrent.futures as cf

import openai
import pytest

from tests.api.conftest import rag_serve
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.model

LOG = ROOT / "test-artifacts" / "api" / "serve.log"
# unambiguous questions of the sample novella with their one right answer (P(有) ≈ 0.90 on both CPUs)
OWNER = ("裕丰当的东家是谁？", "钱有道")
SILVER = ("最后从山洞里清点出多少官银？", ("七万六千两", "七十六箱"))


@pytest.fixture(scope="module")
def url(api_store, tmp_path_factory):
    env = {"SHUWEN_STORE_DIR": str(api_store), "SHUWEN_TTS_CACHE": str(tmp_path_factory.mktemp("tts"))}
    with rag_serve(free_port(), env, LOG) as base:
        yield base


def test_streamed_answer_from_the_real_model_cites_its_evidence(url):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
    chunks = list(client.chat.completions.create(
        model="青石镇奇案", stream=True, messages=[{"role": "user", "content": OWNER[0]}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    info = chunks[-1].model_extra["shuwen"]
    assert OWNER[1] in text and text == info["answer"] and text.endswith("〕")
    cited = next(p for p in info["sources"] if p["chunk_id"] == info["cited_chunk"])
    assert OWNER[1] in cited["text"]
    assert info["support"] >= 0.76 and info["timings"]["first_token_s"] > 0


def test_two_readers_at_once_get_their_own_answers(url):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)

    def ask(q: str):
        return client.chat.completions.create(model="青石镇奇案", messages=[{"role": "user", "content": q}])

    with cf.ThreadPoolExecutor(2) as pool:
        owner, silver = pool.map(ask, [OWNER[0], SILVER[0]])
    a, b = owner.choices[0].message.content, silver.choices[0].message.content
    assert OWNER[1] in a and not any(s in a for s in SILVER[1])
    assert any(s in b for s in SILVER[1]) and OWNER[1] not in b
    positions = sorted(r.model_extra["shuwen"]["queue_position"] for r in (owner, silver))
    assert positions == [0, 1]  # one model, one answer at a time, in arrival order
