"""Who is in the book, no model: character names with their mentions per chapter (the book card's 人物).

Three sources, each cheap: the novel's own discovered words that start with a surname and that jieba does not know
as an ordinary word (沈墨白, 钱有道; 王府 and 高声 are known words), jieba's own person names (刘备, 曹操), and the
speakers of quoted lines (行者, 八戒), which the book names by role as often as by surname.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from rag.ingest.speech import lines_by_speaker

SURNAMES = frozenset(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马苗凤"
    "花方俞任袁柳鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪祁毛禹狄米贝明"
    "臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯管卢"
    "莫房裘缪解应宗丁宣邓郁单杭洪包诸左石崔吉龚程嵇邢裴陆荣翁荀羊惠甄曲封芮储靳段富巫焦巴牧车侯全班仲伊宫宁仇栾"
    "甘厉戎祖武符刘景詹龙叶司黎薄印白怀蒲从鄂索卓蔺屠蒙池乔胥苍双闻党翟谭贡劳姬申冉雍桑桂牛寿边燕冀尚温庄晏柴瞿阎"
    "连艾向古易廖居步耿满匡文寇广禄东欧利越隆师巩聂晁敖辛那简饶曾沙关相查荆红游权盖桓公诸葛司马夏侯欧阳上官皇甫"
)
_NOT_PEOPLE = frozenset("众人 大家 二人 三人 两个 众将 众官 众僧 众妖 那怪 妖精 妖怪 小妖 左右 军士 使者 有人 那人 此人 其人 "
                        "二将 二位 两人 众军 百姓 那厮 我们 你们 他们".split())
_PLACE_END = frozenset("山洞寺国城府县村河岭庄宫殿江湖海州镇关峡亭渡岛院观庙桥坡郡营寨谷堂楼阁铺店当栈园门")  # 云栖寺, 江州府
_PLAIN_TAGS = re.compile(r"^(d|v|vd|vn|a|ad|an|r|m|q|p|c|u|f|t|s|y|e|o|z|l|i)$")


def _tags() -> dict[str, str]:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.posseg.initialize()
    return jieba.posseg.dt.word_tag_tab


def candidate_names(text: str, words: Iterable[str], min_lines: int = 5) -> set[str]:
    """Words that look like people's names in this book."""
    tags = _tags()
    out = set()
    for w in words:
        if 2 <= len(w) <= 3 and (w[0] in SURNAMES or w[:2] in SURNAMES):
            tag = tags.get(w)
            if tag is None or tag.startswith("nr"):
                out.add(w)
    for who, lines in lines_by_speaker(text).items():
        if len(lines) >= min_lines and 2 <= len(who) <= 4 and who not in _NOT_PEOPLE:
            tag = tags.get(who)
            if tag is None or not _PLAIN_TAGS.match(tag):
                out.add(who)
    return {n for n in out if n[-1] not in _PLACE_END and not any(c in n for c in "，。！？、：；“”")}


def mentions(chapter_texts: list[str], names: Iterable[str], min_total: int = 3) -> dict[str, list[int]]:
    """{name: mentions in each chapter} for names mentioned at least `min_total` times, most mentioned first."""
    counts = {n: [t.count(n) for t in chapter_texts] for n in names}
    kept = {n: c for n, c in counts.items() if sum(c) >= min_total}
    return dict(sorted(kept.items(), key=lambda kv: (-sum(kv[1]), kv[0])))
