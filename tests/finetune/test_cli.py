"""The thin CLIs: --help everywhere, one clear line for bad input, script dialogue end to end."""

import json

import pytest

from tests.conftest import run_cli

MODULES = ["finetune.base", "finetune.qa", "finetune.persona", "finetune.dialogue", "finetune.export",
           "finetune.train", "finetune.merge", "finetune.to_gguf"]


@pytest.mark.parametrize("module", MODULES)
def test_every_step_has_help(module):
    r = run_cli("-m", module, "--help", timeout=120)
    assert r.returncode == 0 and "usage:" in r.stdout


@pytest.mark.slow
def test_bad_input_is_one_line_and_non_zero(tmp_path):
    r = run_cli("-m", "finetune.export", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: no such file")
    r = run_cli("-m", "finetune.train", "--data", str(tmp_path / "x.jsonl"), "--method", "qlora")
    assert r.returncode == 2 and "--cpu-fallback" in r.stderr.strip().splitlines()[-1]


def test_script_dialogue_cli_writes_pairs(tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("皇帝：你叫什么？\n甄嬛（跪下）：臣妾甄嬛。\n", encoding="utf-8")
    out = tmp_path / "d.jsonl"
    r = run_cli("-m", "finetune.dialogue", "script", "--file", str(script), "--role", "甄嬛", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert (rec["input"], rec["output"], rec["action"]) == ("你叫什么？", "臣妾甄嬛。", "跪下")


def test_book_dialogue_cli_takes_pairs_from_the_novels_quoted_lines(tmp_path):
    novel = tmp_path / "小说.txt"
    novel.write_text("第一回　上山\n\n三藏道：“悟空，前面是甚么山？”行者道：“师父莫怕，等老孙去看。”\n\n"
                     "第二回　下山\n\n八戒道：“哥哥，吃斋了。”悟空笑道：“呆子，你先吃。”\n", encoding="utf-8")
    out = tmp_path / "d.jsonl"
    r = run_cli("-m", "finetune.dialogue", "book", "--novel", str(novel), "--role", "孙悟空", "--aliases", "悟空,行者",
                "--chapters", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [(x["speaker"], x["input"], x["output"], x["chapter"]) for x in recs] == [("八戒", "哥哥，吃斋了。", "呆子，你先吃。", 2)]
    r = run_cli("-m", "finetune.dialogue", "book", "--novel", str(novel), "--role", "白龙马", "--out", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2 and "no quoted lines of 白龙马" in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x.jsonl").exists()
