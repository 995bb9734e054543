"""Speaking as a character (roleplay/chat.py) on the real sample store; the chat model is a fake at the boundary."""

import pytest

from rag.contract import Answer
from rag.errors import BadInputError
from roleplay import store
from roleplay.card import new_card
from roleplay.chat import Character, Reply
from tests.fakes import FakeBackend
from tests.roleplay.conftest import detective


def Fake(reply: str = "沈墨白：在下正是沈墨白。\n你：那好。") -> FakeBackend:
    """A chat model that replies as the character and then (wrongly) as the user."""
    return FakeBackend(reply, rewrite=None, piece=3)


def test_reply_is_grounded_styled_and_in_character(rp_settings):
    fake = Fake()
    who = Character(rp_settings, detective(), backend=fake)
    reply = who.say("你的剑叫寒汀吗？", history=[("你好", "在下有礼。")])
    assert reply.text == "在下正是沈墨白。"  # no speaker prefix, no turn written for the user
    system, *turns = fake.prompts[0]
    assert system["role"] == "system" and "沈墨白" in system["content"] and "“在下”" in system["content"]
    assert "SECRET-NOTE" not in str(fake.prompts) and "{{char}}" not in str(fake.prompts)
    assert "寒汀是沈墨白的剑。" in system["content"] and reply.lore == ["寒汀是沈墨白的剑。"]  # lore fired by key
    assert reply.passages and all(p.text in system["content"] for p in reply.passages)
    assert any("寒汀" in p.text for p in reply.passages)  # the book's passages about what was asked
    assert len(reply.lines) == 4 and all(f"「{x}」" in system["content"] for x in reply.lines)
    assert [t["role"] for t in turns] == ["user", "assistant", "user"] and turns[-1]["content"].endswith("回答要短。")
    assert store.load_lines(rp_settings, "青石镇奇案", "沈墨白")[0]  # own lines cached beside the card


def test_tasks_views_and_new_characters(rp_settings):
    who = Character(rp_settings, detective(), backend=Fake("好。"))
    for task in ["介绍", "故事", "信", "聊天", "时间", "关于", "了解"]:
        msg = who.task(task, "雨夜", "多说些药材")
        assert msg and "{" not in msg and "多说些药材" in msg
    with pytest.raises(BadInputError, match="task must be one of"):
        who.task("唱歌")
    message, query = who.view_of(new_card("钱有道", shuwen={"aliases": ["钱掌柜"]}))
    assert "钱有道" in message and "沈墨白" in query and "钱掌柜" in query
    reply = who.say(message, query=query)
    assert any("钱" in p.text for p in reply.passages)
    stranger = Character(rp_settings, new_card("白衣客", description="不在书里的人。"), backend=Fake("嗯。"))
    r = stranger.say("你从哪里来？")
    assert r.text == "嗯。" and r.passages == [] and r.lines == []  # the card alone drives a new character


def test_read_to_limits_what_the_character_knows(rp_settings):
    who = Character(rp_settings.replace(read_to="第二回"), detective(), backend=Fake("嗯。"))
    reply = who.say("最后从山洞里清点出多少官银？")
    assert reply.passages and all(p.chapter <= 2 for p in reply.passages)


def test_card_store_checks_names(rp_settings, tmp_path):
    path = store.save(rp_settings, detective())
    assert path.parent.name == "青石镇奇案" and store.list_names(rp_settings, "青石镇奇案") == ["沈墨白"]
    assert store.load(rp_settings, "青石镇奇案", "沈墨白")["data"]["name"] == "沈墨白"
    with pytest.raises(BadInputError):
        store.save(rp_settings, new_card("../../evil", shuwen={"novel": "青石镇奇案"}))
    with pytest.raises(BadInputError, match="which novel"):
        store.save(rp_settings, new_card("无书"))
    with pytest.raises(BadInputError, match="no character"):
        store.load(rp_settings, "青石镇奇案", "钱有道")
    store.delete(rp_settings, "青石镇奇案", "沈墨白")
    assert store.list_names(rp_settings, "青石镇奇案") == []


def test_reply_events_follow_the_answering_contract(rp_settings):
    """Held (the default): one token, the final words; streamed: the draft, withdrawn by the stage that cut it."""
    from roleplay.chat import Reply

    who = Character(rp_settings, detective(), backend=Fake())
    events = list(who.events("你的剑叫寒汀吗？"))
    assert [e.kind for e in events] == ["token", "final"] and events[0].text == "在下正是沈墨白。"
    assert isinstance(events[-1].record, Reply) and events[-1].record.changed == ["reading"]
    assert [name for name, _ in who.stages()] == ["reading", "loop", "echo", "address", "facts", "character"]
    live = Character(rp_settings.replace(release="stream"), detective(), backend=Fake())
    events = list(live.events("你的剑叫寒汀吗？"))
    assert "".join(e.text for e in events if e.kind == "token").startswith("沈墨白：在下正是沈墨白。")
    withdrawn = next(e for e in events if e.kind == "withdrawn")
    assert withdrawn.stage == "reading" and withdrawn.text == "沈墨白：在下正是沈墨白。\n你：那好。"
    assert events[-2] == type(events[-2])("token", "在下正是沈墨白。")


def test_options_reach_the_characters_model(rp_settings):
    from rag.contract import Options

    fake = Fake("在下沈墨白。")
    who = Character(rp_settings, detective(), backend=fake)
    list(who.events("你是谁？", Options(temperature=0.2, max_tokens=9, history=(("你好", "在下有礼。"),))))
    assert fake.knobs[-1] == (9, 0.2)
    assert [m["content"] for m in fake.prompts[-1][1:3]] == ["你好", "在下有礼。"]


def test_an_echo_is_regenerated_once_and_a_loop_cut(rp_settings):
    fake = FakeBackend(script=["我的剑叫什么名字呢？", "在下的剑名叫寒汀。"], rewrite=None)
    reply = Character(rp_settings, detective(), backend=fake).say("你的剑叫什么名字？")
    assert reply.text == "在下的剑名叫寒汀。" and "echo" in reply.changed
    assert "不要重复" in fake.prompts[1][-1]["content"]  # the second try is told not to repeat the message
    stubborn = FakeBackend(script=["我的剑叫什么名字呢？", "我的剑叫什么名字啊？"], rewrite=None)
    kept = Character(rp_settings, detective(), backend=stubborn).say("你的剑叫什么名字？")
    assert len(stubborn.prompts) == 2  # regenerated once, not forever; then his own nearest line from the book
    assert "echo" in kept.changed and kept.text in kept.lines
    # a run said again inside another sentence (repair's loop cut and clean's repeated sentences both miss it)
    looped = FakeBackend("钱掌柜的账目分明有鬼，在下查了三天。伙计也说钱掌柜的账目分明有鬼呢。", rewrite=None)
    reply = Character(rp_settings, detective(), backend=looped).say("你查到了什么？")
    assert reply.text == "钱掌柜的账目分明有鬼，在下查了三天。" and reply.changed == ["loop"]


def test_the_user_is_not_called_by_the_characters_name_and_sampling_fights_loops(rp_settings):
    fake = FakeBackend("在下啊，你可知这镇上的规矩？", rewrite=None)
    reply = Character(rp_settings, detective(), backend=fake).say("我初到此地，有什么要当心的？")
    assert reply.text == "你可知这镇上的规矩？" and reply.changed == ["address"]
    sampling = fake.sampling[0]
    assert sampling["presence_penalty"] == rp_settings.roleplay_presence_penalty > 0
    assert sampling["repeat_penalty"] == rp_settings.roleplay_repeat_penalty and "\n你：" in sampling["stop"]


def test_a_book_question_is_answered_by_the_book_then_said_in_voice(rp_settings):
    """roleplay_facts: 书问's answer (evidence ranking, support check) first, then the character says it."""
    s = rp_settings.replace(roleplay_facts=True)
    # first the book's answer (the fake's first reply), then the character's voiced reply
    fake = FakeBackend(script=["钱有道。", "裕丰当的东家嘛，在下查过，是钱有道。"], rewrite=None, support=0.9)
    who = Character(s, detective(), backend=fake)
    reply = who.say("沈墨白，你知道裕丰当的东家是谁吗？")
    assert reply.facts.standalone == "沈墨白知道裕丰当的东家是谁吗？"
    assert reply.text == "裕丰当的东家嘛，在下查过，是钱有道。" and reply.citations == [2]
    assert "书里的答案：钱有道。" in fake.prompts[-1][-1]["content"]  # the answer, without its citation
    assert "问的是：沈墨白知道裕丰当的东家是谁吗？" in fake.prompts[-1][-1]["content"]  # a bare name needs its question
    # the book is asked at 书问's temperature, the character speaks at its own
    assert [t for _, t in fake.knobs] == [s.temperature, s.roleplay_temperature] and s.temperature != s.roleplay_temperature
    # the voiced reply lost the answer: the book's answer itself, in the first person
    lost = FakeBackend(script=["钱有道。", "在下记不清了。"], rewrite=None, support=0.9)
    reply = Character(s, detective(), backend=lost).say("裕丰当的东家是谁？")
    assert "facts" in reply.changed and reply.text == "钱有道。"
    # … but a book answer that, loop cut, only restates the question is never put back
    who = Character(s, detective(), backend=FakeBackend("……", rewrite=None))
    facts = dict(who.stages())["facts"]
    looped = Reply(facts=Answer("你怎么看裕丰当？", "沈墨白怎么看裕丰当？", answer="沈墨白怎么看裕丰当？沈墨白怎么看裕丰当？钱掌柜为人阴狠。"))
    assert facts("在下以为，此人可疑。", reply=looped, turn={"message": "你怎么看裕丰当？"}) == "在下以为，此人可疑。"
    said = Reply(facts=Answer("裕丰当的东家是谁？", "裕丰当的东家是谁？", answer="钱有道。〔第二回〕"))
    assert facts("在下记不清了。", reply=said, turn={"message": "裕丰当的东家是谁？"}) == "钱有道。"
    # a restatement with the slot filled is the answer, though it adds one character (老)
    filled = Reply(facts=Answer("沈墨白的鞋是哪位龙王送的？", "沈墨白的鞋是哪位龙王送的？", answer="沈墨白的鞋是老龙王送的。〔第二回〕"))
    assert facts("在下记不清了。", reply=filled, turn={"message": "你的鞋是哪位龙王送的？"}) == "在下的鞋是老龙王送的。"
    # 书问 restating the question before saying the book does not tell is a refusal: a question back is no answer
    restated = Reply(facts=Answer("沈墨白的剑有多重？", "沈墨白的剑有多重？", answer="沈墨白的剑有多重？——书中没有明确提到。〔第二回〕"))
    assert facts("在下的剑有多重？", reply=restated, turn={"message": "你的剑有多重？"}) == "这个在下可记不清了，不敢乱说。"
    assert facts("在下不清楚。", reply=restated, turn={"message": "你的剑有多重？"}) == "在下不清楚。"
    # the book does not tell: the character is told to say so, never to invent
    silent = FakeBackend(script=["在下不清楚。"], rewrite=None, support=0.1)
    reply = Character(s, detective(), backend=silent).say("你的剑有多重？")
    assert reply.facts.answer == "书中没有明确提到。" and "书里没有直接写这件事" in silent.prompts[-1][-1]["content"]
    assert reply.text == "在下不清楚。" and "facts" not in reply.changed
    # … and a reply that states a fact the book does not give is replaced by not knowing, in the character's voice
    bold = FakeBackend(script=["在下的剑重三十斤。"], rewrite=None, support=0.1)
    reply = Character(s, detective(), backend=bold).say("你的剑有多重？")
    assert reply.text == "这个在下可记不清了，不敢乱说。" and "facts" in reply.changed
    # … but what the card itself says stays (the prompt allows it): the sword's name is in his lore
    lore = FakeBackend(script=["在下的剑名叫寒汀。"], rewrite=None, support=0.1)
    reply = Character(s, detective(), backend=lore).say("你的剑叫什么名字？")
    assert reply.facts.answer == "书中没有明确提到。" and reply.text == "在下的剑名叫寒汀。"
    # an opinion the book does not answer is the character's own: no book step in its prompt
    free = FakeBackend(script=["在下以为，此镇多雨。"], rewrite=None, support=0.1)
    reply = Character(s, detective(), backend=free).say("你怎么看青石镇？")
    assert reply.facts is None and "书里" not in free.prompts[-1][-1]["content"]
    own = FakeBackend(script=["在下心细，专破奇案。"], rewrite=None, support=0.1)
    reply = Character(s, detective(), backend=own).say("别人应该了解你哪些事？")
    assert reply.facts is None and reply.text == "在下心细，专破奇案。"


def test_the_book_is_asked_as_a_reader_would_ask_it_the_address_dropped(rp_settings):
    who = Character(rp_settings, detective(), backend=FakeBackend("……", rewrite=None))
    assert who.book_question("沈先生，你在当铺门前发现了什么？") == "沈墨白在当铺门前发现了什么？"
    assert who.book_question("你在当铺门前发现了什么？") == "沈墨白在当铺门前发现了什么？"
    assert who.book_question("师父，收留你的猎户叫什么？") == "收留沈墨白的猎户叫什么？"  # any address, not only his names
    assert who.book_question("你们几个人一起去的？") == "沈墨白他们几个人一起去的？"
    # a clause before the comma that is not an address stays: what follows alone is no question
    assert who.book_question("当铺门前，你发现了什么？") == "当铺门前，沈墨白发现了什么？"
    # a scene's message is the others' lines since he last spoke: the question is the last line, label dropped
    scene = "周伯年：先生请坐。\n顾小满：沈先生，你在当铺门前发现了什么？"
    assert who.book_question(scene) == "沈墨白在当铺门前发现了什么？"
