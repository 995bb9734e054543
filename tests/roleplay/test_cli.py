"""`python -m roleplay` as a reader runs it: import a SillyTavern PNG, list, export; the example cards load."""

import json

from roleplay.card import blank_png, png_with_card, read_card
from tests.conftest import ROOT, run_cli
from tests.roleplay.conftest import detective


def test_import_list_export_round_trip(tmp_path, rp_settings):
    env = {"SHUWEN_STORE_DIR": str(rp_settings.store_dir)}
    png = tmp_path / "沈墨白.png"
    png.write_bytes(png_with_card(blank_png(8, 8), detective()))
    out = run_cli("-m", "roleplay", "import", str(png), env=env)
    assert out.returncode == 0, out.stderr
    assert run_cli("-m", "roleplay", "list", "--novel", "青石镇奇案", env=env).stdout.split() == ["沈墨白"]
    for suffix in ("json", "png"):
        dest = tmp_path / f"out.{suffix}"
        out = run_cli("-m", "roleplay", "export", "--novel", "青石镇奇案", "--name", "沈墨白", "--out", str(dest),
                      env=env)
        assert out.returncode == 0 and read_card(dest) == read_card(png)
    bad = run_cli("-m", "roleplay", "import", str(tmp_path / "nope.txt"), env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    missing = run_cli("-m", "roleplay", "chat", "--novel", "青石镇奇案", "--name", "钱有道", "你好", env=env)
    assert missing.returncode == 2 and "no character" in missing.stderr and "draft" in missing.stderr
    assert run_cli("-m", "roleplay", "chat", "--help").returncode == 0
    # the same commands under `python -m rag`: card …, roleplay (chat), chatroom
    assert run_cli("-m", "rag", "card", "list", "--novel", "青石镇奇案", env=env).stdout.split() == ["沈墨白"]
    missing = run_cli("-m", "rag", "roleplay", "--novel", "青石镇奇案", "--character", "钱有道", "你好", env=env)
    assert missing.returncode == 2 and "no character '钱有道'" in missing.stderr
    listed = run_cli("-m", "rag", "--help").stdout
    assert all(c in listed for c in ("card", "roleplay", "chatroom"))
    bad = run_cli("-m", "rag", "chatroom", "--novel", "青石镇奇案", "--characters", "沈墨白", "--topic", "雨", env=env)
    assert bad.returncode == 2 and "2 to 8 characters" in bad.stderr and "Traceback" not in bad.stderr


def test_bad_cards_are_refused_and_nothing_is_written(tmp_path, rp_settings):
    from roleplay.card import png_with_card

    env = {"SHUWEN_STORE_DIR": str(rp_settings.store_dir)}
    before = sorted((rp_settings.store_dir / "characters").rglob("*"))
    cases = {"broken.json": b'{"spec": "chara_card_v2", "data": {"name": ',
             "nocard.png": blank_png(4, 4),
             "v9.json": json.dumps({"spec": "chara_card_v9", "spec_version": "9.0", "data": {"name": "x"}}).encode(),
             "old.json": json.dumps({"spec": "chara_card_v2", "spec_version": "1.0", "data": {"name": "x"}}).encode(),
             "huge.json": json.dumps({"name": "大", "description": "字" * 400_000}).encode(),
             "hugepng.png": png_with_card(blank_png(4, 4), {"name": "大", "description": "字" * 400_000})}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        out = run_cli("-m", "rag", "card", "import", str(tmp_path / name), "--novel", "青石镇奇案", env=env)
        assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr, name
    assert sorted((rp_settings.store_dir / "characters").rglob("*")) == before


def test_shipped_example_cards_are_valid_v2():
    cards = sorted((ROOT / "corpus" / "characters" / "西游记").glob("*.json"))
    assert [c.stem for c in cards] == sorted(["孙悟空", "猪八戒", "沙悟净", "唐三藏"])
    for path in cards:
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert raw["spec"] == "chara_card_v2" and raw["data"]["extensions"]["shuwen"]["novel"] == "西游记"
        card = read_card(path)
        assert card == raw and card["data"]["description"] and card["data"]["extensions"]["shuwen"]["aliases"]


def test_interactive_turns_skip_blanks_and_stop_on_quit(monkeypatch):
    from rag.cli import turns

    typed = iter(["你好", "  ", "再见", "/quit", "never"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    assert list(turns()) == ["你好", "再见"]
    monkeypatch.setattr("builtins.input", lambda prompt="": (_ for _ in ()).throw(EOFError))
    assert list(turns()) == []
