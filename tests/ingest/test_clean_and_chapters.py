from rag.ingest import load_novel
from rag.ingest.chapters import chinese_number, parse_heading, split_chapters
from rag.ingest.clean import clean_lines, is_noise
from tests.conftest import shared_file


def test_noise_lines_are_dropped_story_kept():
    text = ("《某书》\nTXT小说天堂  https://www.example.com，免费下载\n"
            "    更新时间:2007-11-16 7:55:51 本章字数:4804\n ------章节内容开始-------\n"
            "第一回　开篇\n\n　　话说那一日，天色将晚，他走进了客栈。\n　　掌柜道：“客官要住店么？”\n")
    kept = [x.text for x in clean_lines(text)]
    assert kept == ["《某书》", "第一回　开篇".replace("　", ""), "话说那一日，天色将晚，他走进了客栈。", "掌柜道：“客官要住店么？”"]
    assert not is_noise("他说那网站上写着的话不可信，便转身去了。")


def test_numbers_and_headings():
    assert chinese_number("一百二十") == 120
    assert chinese_number("十五") == 15
    assert chinese_number("01") == 1
    assert parse_heading("《》目录 第一回　灵根育孕源流出　心性修持大道生")[:2] == ("numbered", 1)
    assert parse_heading("正文 第一百二十回 荐杜预老将献新谋")[:2] == ("numbered", 120)
    assert parse_heading("第十章 风起")[:2] == ("numbered", 10)
    assert parse_heading("第01回")[:2] == ("numbered", 1)
    assert parse_heading("楔子")[0] == "special"
    assert parse_heading("番外一　后来")[0] == "special"
    assert parse_heading("第一回他便走了出去，说道：“好。”") is None


def test_fallback_sections_without_headings():
    text = "\n".join("这是没有章节标题的一段文字，讲的是一个人走了很远的路。" * 5 for _ in range(200))
    chapters = split_chapters(clean_lines(text), section_chars=5000)
    assert len(chapters) > 3 and chapters[0].title == "第1部分"


def test_xiyouji_chapters():
    novel = load_novel(shared_file("corpus/xiyouji.txt"))
    numbered = [c for c in novel.chapters if c.title.startswith("第")]
    assert len(numbered) == 100
    assert [c.number for c in numbered] == list(range(1, 101))
    appendix = [c for c in novel.chapters if c.title.startswith("附录")]
    assert len(appendix) == 1 and appendix[0].number == 8
    assert not any("http" in c.text or "小说天堂" in c.text for c in novel.chunks)


def test_sanguo_chapters_and_noise():
    novel = load_novel(shared_file("corpus/sanguo.txt"))
    assert len(novel.chapters) == 120
    assert [c.number for c in novel.chapters] == list(range(1, 121))
    joined = "".join(c.text for c in novel.chunks)
    assert "更新时间" not in joined and "本章字数" not in joined and "请购买正版" not in joined
    assert "滚滚长江东逝水" in joined and "鼎足三分已成梦" in joined  # first and last lines of the story
