"""Novel names from readers never reach a path raw (rag/names.py), in the CLI, the page and the API alike."""

import pytest

from rag.errors import BadInputError
from rag.names import MAX_NAME_CHARS, check_name, name_from_filename
from tests.conftest import run_cli


@pytest.mark.parametrize("bad", ["", "  ", "..", "../x", "a/b", "a\\b", ".hidden", "x\x00y", "x\ny", "\u202eevil",
                                 "长" * (MAX_NAME_CHARS + 1)])
def test_bad_names_get_one_clear_error(bad):
    with pytest.raises(BadInputError):
        check_name(bad)


def test_good_names_pass_normalised():
    assert check_name(" 西游记 ") == "西游记"
    assert check_name("Romance of the Three Kingdoms (v2.1)") == "Romance of the Three Kingdoms (v2.1)"
    assert check_name("e\u0301") == "\u00e9"  # NFC: one name, one store


@pytest.mark.parametrize("filename,name", [("../../样书.txt", "样书"), ("C:\\books\\《红楼梦》.TXT", "红楼梦"),
                                           ("..txt", "novel"), ("a..b.txt", "a.b"), ("\x07响.txt", "响")])
def test_upload_file_names_become_safe_names(filename, name):
    assert name_from_filename(filename) == name
    assert check_name(name_from_filename(filename)) == name


def test_gen_chroma_rejects_a_path_like_name(tmp_path):
    book = tmp_path / "b.txt"
    book.write_text("第一回 开头\n" + "正文。" * 50, encoding="utf-8")
    out = run_cli("gen_chroma.py", "--novel", str(book), "--name", "../../etc", "--store", str(tmp_path / "s"))
    assert out.returncode == 2 and "'..'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())
