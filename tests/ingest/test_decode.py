import pytest

from rag.errors import BadInputError
from rag.ingest.decode import decode_file, detect_and_decode, to_simplified

TEXT = "第一回　灵根育孕源流出\n　　话说孙悟空在花果山水帘洞里，同众猴说道：“我们这里是个好去处！”他们都欢喜。\n" * 20
TRAD = "第一回　靈根育孕源流出\n　　話說孫悟空在花果山水簾洞裡，同眾猴說道：「我們這裡是個好去處！」他們都歡喜。\n" * 20


@pytest.mark.parametrize(("encoding", "text", "expected"), [
    ("utf-8", TEXT, "utf-8"),
    ("utf-8-sig", TEXT, "utf-8-sig"),
    ("gb18030", TEXT, "gb18030"),
    ("gbk", TEXT, "gb18030"),
    ("big5", TRAD, "big5"),
])
def test_encodings_are_detected_from_bytes(tmp_path, encoding, text, expected):
    path = tmp_path / "novel.dat"  # the name says nothing about the encoding
    path.write_bytes(text.encode(encoding))
    dec = decode_file(path)
    assert dec.encoding == expected
    assert dec.text == text  # BOM removed, text exact


def test_traditional_to_simplified():
    assert to_simplified("話說孫悟空在花果山水簾洞裡") == "话说孙悟空在花果山水帘洞里"


@pytest.mark.parametrize(("data", "message"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG"),
    (b"PK\x03\x04" + b"\x00" * 100, "zip"),
    (b"\x00\x01\x02binary" * 50, "binary"),
    ("孙悟空".encode() + b"\xff\xfe\xfa\x80\x81" * 40, "undecodable"),
])
def test_bad_bytes_are_refused(data, message):
    with pytest.raises(BadInputError, match=message):
        detect_and_decode(data, "x.txt")


def test_empty_and_missing(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"  \n\n")
    with pytest.raises(BadInputError, match="empty"):
        decode_file(tmp_path / "empty.txt")
    with pytest.raises(BadInputError, match="no such file"):
        decode_file(tmp_path / "nope.txt")
    with pytest.raises(BadInputError, match="directory"):
        decode_file(tmp_path)


def test_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(TEXT.encode() * 40)
    with pytest.raises(BadInputError, match="limit"):
        decode_file(path, max_mb=0.01)
