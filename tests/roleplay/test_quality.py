"""The reader's rules for a character's reply (roleplay/quality.py), on replies the bundled model really gave."""

from roleplay.quality import (
    answers,
    calls_user_self,
    cut_loop,
    is_echo,
    is_empty_turn,
    is_loop,
    recites_lore,
    says_unknown,
)

OWN = ("孙悟空", "悟空", "老孙", "齐天大圣")


def test_echo_is_a_restated_message_not_a_short_answer():
    assert is_echo("师父被妖怪抓走了，我打算怎么办？", "师父又被妖怪抓走了，你打算怎么办？", OWN)
    assert is_echo("老孙，你对天庭怎么看呢？", "你怎么看天庭？", OWN)
    assert is_echo("别人应该了解我哪些事？", "别人应该了解你哪些事？", OWN)
    assert not is_echo("老孙便是齐天大圣孙悟空！", "你叫什么名字？", OWN)
    assert not is_echo("在下的剑名叫寒汀。", "你的剑叫什么名字？", ("沈墨白", "在下"))  # the answer is two characters
    assert not is_echo("师父被抓了？老孙这就打上门去，一棒打死那妖精！", "师父又被妖怪抓走了，你打算怎么办？", OWN)
    assert not is_echo("你怎么看天庭？天庭那帮神仙，欺软怕硬，老孙不放在眼里。", "你怎么看天庭？", OWN)
    assert not is_echo("", "你好？") and not is_echo("好。", "")


def test_loops_are_found_and_cut_at_the_second_copy():
    looped = "老孙，你知道蟠桃和玉液蟠桃有什么意义吗？" * 3
    assert is_loop(looped) and cut_loop(looped) == "老孙，你知道蟠桃和玉液蟠桃有什么意义吗？"
    run = "那妖精好生厉害，老孙打了三天三夜，那妖精好生厉害，只好去请菩萨。"
    assert is_loop(run) and cut_loop(run) == "那妖精好生厉害，老孙打了三天三夜"
    assert not is_loop("师父莫慌，老孙去去就回。那妖精躲在洞里，老孙一棒打进去。")
    assert cut_loop("好。") == "好。"


def test_empty_turns_are_greetings_or_nothing_new():
    last = ["猪八戒：火焰山热得很，俺老猪可不想去。", "沙悟净：二师兄，师父还在等我们呢。"]
    for text in ["大家好，", "谢谢你的解释，老猪。", "是的，老猪。", "徒弟们，", "火焰山热得很。"]:
        assert is_empty_turn(text, last), text
    assert not is_empty_turn("那铁扇公主是牛魔王的妻子，老孙先去借扇，借不来再打。八戒看好师父！", last)
    assert not is_empty_turn("小的那晚只见过一个戴斗笠的客人。", last)
    assert is_empty_turn("哈哈，大家好！我是猪八戒。俺老猪不想去火焰山。", last)  # greeting, name, nothing new
    assert not is_empty_turn("大家好，我是孙悟空。那铁扇公主是牛魔王的妻子，老孙先去借扇！", last)
    assert is_empty_turn("俺老猪不想去火焰山。", last)  # four new characters
    # agreeing, thanking, understanding and going on, however many of them, say nothing either
    for text in ["是的，我明白。感谢您的解答。", "嗯，我明白了。咱们继续吧！", ": 好的，我明白了。谢谢！\n不用谢，师弟啊！",
                 "嗯，好的。我明白你的意思了。感谢你提醒我不要乱来。"]:
        assert is_empty_turn(text, last), text
    assert not is_empty_turn("好的，我这就去借芭蕉扇，师父在此等候。", last)
    assert not is_empty_turn("是的，那妖精是白骨夫人变的。", last)


def test_answers_asks_for_the_kind_or_something_new():
    assert answers("老孙那金箍棒重一万三千五百斤！", "你的兵器有多重？", OWN)
    assert answers("老孙住在花果山水帘洞。", "你住在哪里？", OWN)
    assert not answers("我住在哪里呢？", "你住在哪里？", OWN)
    assert not answers("老孙的兵器很重。", "你的兵器有多重？", OWN)
    assert answers("那妖精最会变化，又有法宝，老孙也怕他三分。", "路上哪个妖怪最难对付？", OWN)
    assert answers("好。", "给师父写一封信。", OWN) is None  # not a question: not judged


def test_the_user_is_never_called_by_the_characters_own_name():
    assert calls_user_self("老孙啊，你是不是真的想当阴间天子？", OWN) == "老孙"
    assert calls_user_self("好！悟空，你去吧。", OWN) == "悟空"
    assert calls_user_self("老孙去去就回，你在这里等着。", OWN) == ""


def test_lore_recited_to_an_unrelated_message():
    lore = [{"keys": ["金箍棒", "棒"], "content": "如意金箍棒原是东海龙宫海藏里的天河定底神珍铁，重一万三千五百斤，能大能小。"}]
    said = "老孙的金箍棒原是东海龙宫海藏里的天河定底神珍铁，重一万三千五百斤！"
    assert recites_lore(said, "你最怕什么？", lore)
    assert not recites_lore(said, "说说你的金箍棒。", lore)  # asked about it: the lore is the answer
    assert not recites_lore("老孙最怕师父念紧箍咒。", "你最怕什么？", lore)


def test_says_unknown_hears_not_knowing_and_the_books_silence():
    assert says_unknown("这个老孙可记不清了。") and says_unknown("书里没有写这件事。") and says_unknown("俺也不知。")
    assert not says_unknown("老孙的金箍棒重一万三千五百斤。")
    assert not says_unknown("不知不觉，老孙到了火焰山。") and not says_unknown("别忘了，他并未走远。")
