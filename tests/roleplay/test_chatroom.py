"""The chatroom's turn loop, turn orders, prompts and transcripts (roleplay/chatroom.py) on the real sample store;
the chat model is a fake at the boundary."""

import json

import pytest

from rag.errors import BadInputError
from roleplay.card import new_card
from roleplay.chat import Character, breaks_character, settings_for
from roleplay.chatroom import Chatroom
from tests.fakes import FakeBackend
from tests.roleplay.conftest import detective


def Script(*replies: str) -> FakeBackend:
    """Answers from a list of replies in turn (then 嗯。), recording every prompt."""
    return FakeBackend(script=list(replies), rewrite=None, piece=4)


def cards() -> list[dict]:
    return [detective(),
            new_card("钱有道", description="当铺的朝奉。", shuwen={"novel": "青石镇奇案", "aliases": ["钱掌柜"],
                                                          "self_ref": "小的"}),
            new_card("白衣客", description="一个过路人。", shuwen={"self_ref": "我"})]


def room(settings, order: str, *replies: str, seed: int | None = None) -> tuple[Chatroom, Script]:
    fake = Script(*replies)
    r = Chatroom(settings, cards(), "当铺的案子", order, seed,
                 backends={n: fake for n in ("沈墨白", "钱有道", "白衣客")})
    return r, fake


def speakers(r: Chatroom, n: int) -> list[str]:
    for _ in r.run(n):
        pass
    return [t.speaker for t in r.turns if not t.by_user]


@pytest.mark.slow
def test_list_order_is_round_robin(rp_settings):
    r, _ = room(rp_settings, "list")
    assert speakers(r, 5) == ["沈墨白", "钱有道", "白衣客", "沈墨白", "钱有道"]


def test_natural_order_follows_who_is_named_then_who_spoke_least(rp_settings):
    r, _ = room(rp_settings, "natural", "钱掌柜，你那晚在哪里？", "小的一直在铺子里。", "我只是路过。", "我也说两句。")
    # named (by an alias) speaks next; then the one who has not spoken yet; then the least-spoken, list order
    assert speakers(r, 4) == ["沈墨白", "钱有道", "白衣客", "沈墨白"]
    r.interject("白衣客，你看见了什么？")
    for _ in r.step():
        pass
    assert r.turns[-1].speaker == "白衣客"  # the reader's interjection names who answers


@pytest.mark.slow
def test_random_order_never_repeats_a_speaker_and_is_seeded(rp_settings):
    a, _ = room(rp_settings, "random", seed=7)
    b, _ = room(rp_settings, "random", seed=7)
    order = speakers(a, 12)
    assert order == speakers(b, 12) and all(x != y for x, y in zip(order, order[1:]))
    assert set(order) == {"沈墨白", "钱有道", "白衣客"}


def test_only_the_speakers_card_is_in_its_prompt(rp_settings):
    r, fake = room(rp_settings, "list", "在下先说。", "小的不知道。沈墨白：你撒谎！")
    for _ in r.run(2):
        pass
    first, second = fake.prompts[0], fake.prompts[1]
    assert "游方的郎中" in first[0]["content"] and "当铺的朝奉" not in first[0]["content"]
    assert "当铺的朝奉" in second[0]["content"] and "游方的郎中" not in second[0]["content"]
    turn = second[-1]["content"]
    assert "当铺的案子" in turn and "沈墨白：在下先说。" in turn and "白衣客" in turn  # names and latest lines
    assert r.turns[1].text == "小的不知道。"  # a line written for another speaker is cut away
    assert r.turns[0].chapters  # the detective's reply stood on the book's passages


def test_transcripts_are_saved_as_jsonl_and_markdown(tmp_path, rp_settings):
    r, _ = room(rp_settings, "list", "在下先说。", "小的在。")
    for _ in r.run(1):
        pass
    r.interject("你们好")
    for _ in r.run(1):
        pass
    jl, md = r.save(tmp_path / "room")
    rows = [json.loads(x) for x in jl.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["topic"] == "当铺的案子" and rows[0]["characters"] == ["沈墨白", "钱有道", "白衣客"]
    assert [x["speaker"] for x in rows[1:]] == ["沈墨白", "你", "钱有道"] and rows[2]["by_user"]
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# 聊天室：当铺的案子") and "> **你**：你们好" in text and "**钱有道**：小的在。" in text


def test_bad_rooms_are_refused(rp_settings):
    with pytest.raises(BadInputError, match="2 to"):
        Chatroom(rp_settings, cards()[:1], "话题")
    with pytest.raises(BadInputError, match="each character once"):
        Chatroom(rp_settings, [detective(), detective()], "话题")
    with pytest.raises(BadInputError, match="turn order"):
        Chatroom(rp_settings, cards(), "话题", "alphabetical")
    with pytest.raises(BadInputError, match="topic"):
        Chatroom(rp_settings, cards(), "  ")
    r, _ = room(rp_settings, "list")
    with pytest.raises(BadInputError):
        r.interject("  ")


def test_breaking_character_is_caught_and_regenerated_once(rp_settings):
    card = detective()
    assert breaks_character("作为一个AI语言模型，我不能扮演角色。", card).startswith("assistant persona")
    assert breaks_character("沈墨白是一个游方郎中，他心细如发。", card).startswith("third person")
    assert breaks_character("在下沈墨白，专破奇案。", card) == ""
    assert breaks_character("墨白？那是我的名字。", card) == ""
    fake = Script("作为一个AI，我无法回答。", "在下沈墨白。")
    reply = Character(rp_settings, card, backend=fake).say("你是谁？")
    assert reply.text == "在下沈墨白。" and reply.regenerated.startswith("assistant persona")
    assert "不是AI" in fake.prompts[1][-1]["content"]  # the second try is told to stay in character
    stubborn = Script("作为AI我不能。", "作为AI我还是不能。")
    kept = Character(rp_settings, card, backend=stubborn).say("你是谁？")
    assert kept.text == "作为AI我不能。" and len(stubborn.prompts) == 2  # once, not forever


def test_each_character_can_have_its_own_backend():
    from rag.settings import load_settings

    s = load_settings(env={})
    remote = settings_for(s, new_card("甲", shuwen={"endpoint": "http://127.0.0.1:9/v1", "model": "jia"}))
    assert (remote.chat_backend, remote.openai_base_url, remote.chat_model) == ("openai", "http://127.0.0.1:9/v1", "jia")
    lora = settings_for(s, new_card("乙", shuwen={"adapter": "/x/wukong.gguf"}))
    assert lora.chat_backend == s.chat_backend and lora.lora_gguf == "/x/wukong.gguf"
    peft = settings_for(s, new_card("丙", shuwen={"adapter": "/x/wukong-lora"}))
    assert peft.chat_backend == "transformers" and peft.adapter == "/x/wukong-lora"
    assert settings_for(s, new_card("丁")) == s


def test_replies_are_cleaned_to_the_characters_own_words(rp_settings):
    who = Character(rp_settings, detective(), backend=Script())
    assert who.clean("沈墨白：在下来也。") == "在下来也。"
    assert who.clean("【沈墨白】：在下来也。") == "在下来也。"  # the bracketed label of a real run
    assert who.clean("你: “在下来也。”") == "在下来也。"  # a label and the quotes around the whole line
    assert who.clean("钱有道: “掌柜的，在下来也。”") == "掌柜的，在下来也。"
    assert who.clean("在下来也。\n轮到你了：以沈墨白的身份接着说") == "在下来也。"  # an echoed instruction
    looped = "在下沈墨白。行医为生。" * 3 + "专破奇案。"
    assert who.clean(looped) == "在下沈墨白。行医为生。"  # a block said twice is a loop
    assert who.clean("他说：“好。”在下也说好。") == "他说：“好。”在下也说好。"  # quotes inside are kept


def test_the_room_is_a_conversation_for_the_speaker(rp_settings):
    """A speaker's own earlier lines are its assistant turns; the others' lines and the reader's are user turns."""
    r, fake = room(rp_settings, "list", "在下先说。", "小的不知道。", "我路过。", "在下再说。")
    for _ in r.run(3):
        pass
    r.interject("都别吵")
    for _ in r.step():
        pass
    last = fake.prompts[-1]
    roles = [m["role"] for m in last]
    assert roles == ["system", "assistant", "user"]  # alternating after the system prompt
    assert last[1]["content"] == "在下先说。"
    cue = last[2]["content"]
    assert cue.startswith("钱有道：小的不知道。\n白衣客：我路过。\n你：都别吵\n") and "轮到沈墨白说话" in cue


def test_instructions_repeated_back_are_dropped(rp_settings):
    from roleplay.chat import unechoed

    cue = "（大家在聊：当铺的案子。轮到沈墨白说话了：接着上面的话说一到三句，自称“在下”，只说沈墨白自己的话。）"
    assert unechoed("接着上面的话说一到三句，自称“在下”，只说沈墨白自己的话。此案蹊跷。", cue) == "此案蹊跷。"
    assert unechoed("好。当铺的案子在下查过了。", cue) == "好。当铺的案子在下查过了。"
    assert unechoed("在下，）", "你是谁？\n（沈墨白，用“在下”自称，照你自己的口气说。）") == "在下"
    assert unechoed("在下（笑）不知。", "你是谁？") == "在下（笑）不知。"
    fake = Script("只说沈墨白自己的话。", "在下以为此案蹊跷。")
    reply = Character(rp_settings, detective(), backend=fake).say(cue, room=[])
    assert reply.text == "在下以为此案蹊跷。" and reply.regenerated == "empty"  # all echo: said again


def test_a_reply_that_turns_into_a_script_keeps_only_the_speakers_part():
    from roleplay.chatroom import _own_words

    others = ["沙悟净", "沙僧", "猪八戒", "八戒", "你"]
    script = "“哎呀，这火焰山好危险啊！”\n\n沙悟净道：“是的。”\n猪八戒道：“嗯嗯。”"
    assert _own_words(script, others) == "“哎呀，这火焰山好危险啊！”"
    assert _own_words("八戒：你又偷懒。沙僧：是啊。", others) == "你又偷懒。"  # mislabelled: the line stays
    assert _own_words("老孙去也。八戒说的不对。", others) == "老孙去也。八戒说的不对。"  # named, not labelled
    # the bracketed labels of a real run (docs/roleplay-transcripts.md): cut wherever they stand
    boxed = "【沙悟净】：师傅您说，要过火焰山？如果真的要过，【猪八戒】：师傅您说"
    assert _own_words(boxed, others) == "师傅您说，要过火焰山？如果真的要过，"
    assert _own_words("大家好。\n【猪八戒】：大师您好！", others) == "大家好。"


def test_a_reply_is_never_empty(rp_settings):
    fake = Script("你是做什么的？", "你是做什么的？")  # the model only repeats the question, twice
    reply = Character(rp_settings, detective(), backend=fake).say("你是做什么的？")
    assert reply.text == "你是做什么的？" and reply.regenerated == "empty"


def test_beats_and_turns_are_cut_from_what_was_written():
    from roleplay.chatroom import beat_of, one_turn

    assert beat_of("钱有道扑到铁柜前，“我的东西！”他叫道。") == "钱有道扑到铁柜前，我的东西"
    assert beat_of("好。……“快走！”") == ""  # nothing of six characters
    turn = "大家好，我是唐三藏。（大家在聊：过火焰山。在场的还有孙悟空、你。）火焰山太热。悟空去借扇。八戒看行李。\n\n因此我们应该全面考虑。"
    assert one_turn(turn) == "大家好，我是唐三藏。火焰山太热。悟空去借扇。"  # one paragraph, three sentences
    assert one_turn("在场的还有孙悟空、沙悟净、你。师父莫怕！") == "师父莫怕！"


def test_a_room_plans_its_scene_from_the_book_and_gives_each_turn_its_beat(rp_settings):
    s = rp_settings.replace(room_beats=2)
    r, fake = room(s, "list", "账本上少了三页，是谁撕的？", "小的那晚只见过一个戴斗笠的客人。",
                   "我在渡口也见过那个戴斗笠的人，他往江州府去了。", "戴斗笠的客人左手缺了一根指头，在下记得。")
    assert speakers(r, 4) == ["沈墨白", "钱有道", "白衣客", "沈墨白"]
    assert len(r.beats) == 2 and len(fake.prompts) == 4  # the plan is the book's, not one more model call
    book = "".join(c.passage.text for c in r.members[0].asker.retriever.pool("当铺的案子", 20))
    assert all(b.replace("，", "")[:6] in book.replace("，", "").replace("“", "").replace("”", "") for b in r.beats)
    cues = [p[-1]["content"] for p in fake.prompts]
    assert r.beats[0] in cues[0] and r.beats[0] in cues[1]  # four turns, two beats: two turns each
    assert r.beats[1] in cues[2] and r.beats[1] in cues[3]
    assert "不要打招呼" in cues[1] and "还没有人开口" in cues[0]
    # the speaker sees the last two lines only
    assert "账本上少了三页" not in fake.prompts[3][-1]["content"] and "小的那晚" in str(fake.prompts[3])
    head = json.loads(r.to_jsonl().splitlines()[0])
    assert head["beats"] == r.beats and f"情节：{r.beats[0]} → {r.beats[1]}" in r.to_markdown()


def test_an_empty_turn_is_regenerated_once_in_a_planned_scene(rp_settings):
    s = rp_settings.replace(room_beats=1)
    r, fake = room(s, "list", "账本上少了三页，是谁撕的？", "大家好，", "小的那晚只见过一个戴斗笠的客人，左手缺了一根指头。",
                   "我同意。", "是的。")
    speakers(r, 3)
    assert r.turns[1].text.startswith("小的那晚只见过") and r.turns[1].regenerated == "empty turn"
    assert "说点新的" in fake.prompts[2][-1]["content"]
    assert r.turns[2].text == "我同意。" and len(fake.prompts) == 5  # regenerated once, kept when still empty


def test_one_character_talks_through_an_openai_endpoint_the_others_on_the_local_model(rp_settings):
    """A card's `endpoint` (a stronger model a reader runs elsewhere) gets its turns, with the roleplay penalties
    and stops in OpenAI's request shape; the others keep the local model."""
    from tests.fakes import FakeOpenAIServer

    with FakeOpenAIServer("小的那晚只见过一个戴斗笠的客人，左手缺了一根指头。") as server:
        remote = new_card("钱有道", description="当铺的朝奉。", shuwen={"novel": "青石镇奇案", "self_ref": "小的",
                                                                  "endpoint": server.url, "model": "big-model"})
        local = Script("钱掌柜，那晚谁来过当铺？", "那就从斗笠客查起。")
        r = Chatroom(rp_settings, [detective(), remote], "当铺的案子", "list", backends={"沈墨白": local})
        for _ in r.run(3):
            pass
    assert [t.speaker for t in r.turns] == ["沈墨白", "钱有道", "沈墨白"]
    assert r.turns[1].text == "小的那晚只见过一个戴斗笠的客人，左手缺了一根指头。" and len(local.prompts) == 2
    body = server.requests[0]
    assert body["model"] == "big-model" and body["presence_penalty"] == rp_settings.roleplay_presence_penalty
    assert "\n你：" in body["stop"] and "repeat_penalty" not in body  # llama.cpp's knob is not OpenAI's
    assert "当铺的案子" in body["messages"][-1]["content"] and body["messages"][0]["role"] == "system"


def test_a_regenerated_turn_that_says_its_instruction_back_keeps_only_the_characters_words(rp_settings):
    s = rp_settings.replace(room_beats=1)
    r, _ = room(s, "list", "账本上少了三页，是谁撕的？", "大家好，",
                "小的那晚只见过一个戴斗笠的客人。一到两句，不要打招呼，不要只说谢谢或是的。", "是的，我明白。感谢您的解答。")
    speakers(r, 2)
    assert r.turns[1].text == "小的那晚只见过一个戴斗笠的客人。" and r.turns[1].regenerated == "empty turn"


def test_a_turn_empty_twice_becomes_an_own_line_that_does_not_loop(rp_settings):
    s = rp_settings.replace(room_beats=1)
    r, _ = room(s, "list", "账本上少了三页，是谁撕的？", "大家好，", "是的。", "我同意。")
    looped = "小的不知道！小的不知道！那晚铺子早早关了门，小的睡得死。小的不知道！小的不知道！"
    r.members[1].nearest_lines = lambda query, n=4: [looped, "那账本一向锁在柜里，钥匙只有东家有。"]
    speakers(r, 2)
    assert r.turns[1].text == "那账本一向锁在柜里，钥匙只有东家有。" and r.turns[1].regenerated == "own line"
