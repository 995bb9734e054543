"""`python -m roleplay …`: draft, import, export and list character cards; chat as a character, run a task,
or ask one character's view of another."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.cli import turns
from rag.contract import Options
from rag.errors import BadInputError, run_main
from rag.settings import add_settings_args, settings_from_args
from roleplay import store
from roleplay.card import read_card, shuwen, write_card


def _settings(args: argparse.Namespace):
    s = settings_from_args(args)
    if getattr(args, "novel", "missing") is None:  # --novel left out: the settings' default novel
        args.novel = s.default_novel
    return s


def _draft(args: argparse.Namespace) -> int:
    from roleplay.draft import draft_card

    s = _settings(args)
    aliases = [a.strip() for a in (args.aliases or "").split(",") if a.strip()]
    card, report = draft_card(s, args.novel, args.name, aliases, args.self_ref or "", not args.no_model)
    path = store.save(s, card)
    print(json.dumps({"card": str(path), **report}, ensure_ascii=False) if args.json else
          f"{path}: {report['lines']} own lines; aliases {', '.join(report['aliases']) or '—'}; edit it, then chat")
    return 0


def _import(args: argparse.Namespace) -> int:
    s = _settings(args)
    card = read_card(args.file)
    if args.novel:
        shuwen(card)["novel"] = args.novel
    print(store.save(s, card))
    return 0


def _export(args: argparse.Namespace) -> int:
    s = _settings(args)
    out = Path(args.out)
    if out.suffix.lower() not in {".json", ".png"}:
        raise BadInputError("--out must end in .json or .png")
    image = Path(args.image).read_bytes() if args.image else None
    print(write_card(store.load(s, args.novel, args.name), out, image))
    return 0


def _list(args: argparse.Namespace) -> int:
    for name in store.list_names(_settings(args), args.novel):
        print(name)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from roleplay.chat import Character, Reply

    s = _settings(args)
    who = Character(s, store.load(s, args.novel, args.name), grounded=not args.no_book)
    query = None
    if args.view:
        other = args.view
        try:
            other = store.load(s, args.novel, args.view)
        except BadInputError:
            pass  # a name without a card is fine: the book still has passages about both
        message, query = who.view_of(other, args.extra or "")
    elif args.task:
        message = who.task(args.task, args.topic or "", args.extra or "")
    else:
        message = args.message
    history: list[tuple[str, str]] = []
    if args.history:  # a scene to continue: the others' last lines are what the character answers
        from roleplay.scene import as_history, read_scene

        history, pending = as_history(read_scene(args.history), who.own())
        if pending and not args.task and not args.view:
            message = f"{pending}\n{message}" if message else pending
    if message:
        reply = Reply()
        for event in who.events(message, Options.of(history), reply, query):
            if not args.json:
                _print_event(event)
        print(json.dumps(reply.to_dict(), ensure_ascii=False, indent=1) if args.json else _cited(reply))
        return 0
    print(f"《{who.novel or '书外'}》· {who.name} — 说话后回车；/quit 退出", flush=True)
    for q in turns():
        reply = Reply()
        print(f"{who.name}：", end="", flush=True)
        for event in who.events(q, Options.of(history), reply):
            _print_event(event)
        print(_cited(reply), flush=True)
        history.append((q, reply.text))
    return 0


def _print_event(event) -> None:
    """A token as it comes; with release = "stream", text a stage changed is marked and the reply follows."""
    if event.kind == "token":
        print(event.text, end="", flush=True)
    elif event.kind == "withdrawn":
        print(f"\n（{event.stage} 改过，重说）", flush=True)


def _cited(reply) -> str:
    """The chapters of the book's answer the reply said (出处), on the line after it."""
    return f"\n出处：{'、'.join(f'第{c}回' for c in reply.citations)}" if reply.citations else ""


def _chatroom(args: argparse.Namespace) -> int:
    from roleplay.chatroom import Chatroom

    s = _settings(args)
    who = [n.strip() for n in args.characters.replace("，", ",").split(",") if n.strip()]
    room = Chatroom(s, [store.load(s, args.novel, n) for n in who], args.topic, args.order, args.seed)
    stem = Path(args.out) if args.out else None

    def talk(n: int) -> None:
        for _ in range(n):
            speaker = None
            for name, piece in room.step():
                if not args.json:
                    if speaker is None:
                        print(f"{name}：", end="", flush=True)
                    print(piece, end="", flush=True)
                speaker = name
            turn = room.turns[-1]
            if args.json:
                print(json.dumps(turn.__dict__, ensure_ascii=False), flush=True)
            else:
                print(f"\n（重说）{turn.text}" if turn.regenerated else "", flush=True)
            if stem:
                room.save(stem)  # after every turn: a stopped room keeps what was said

    talk(args.turns)
    if args.interactive:
        print("回车：下一位说话；输入文字：插话；/run N：再说 N 轮；/quit：结束", flush=True)
        while True:
            try:
                line = input("你：").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if line in {"/quit", "/exit"}:
                break
            if line.startswith("/run"):
                talk(int(line.split()[1]) if len(line.split()) > 1 and line.split()[1].isdigit() else 1)
                continue
            if line:
                room.interject(line)
            talk(1)
    if stem:
        for path in room.save(stem):
            print(path, file=sys.stderr)
    return 0


def build_parser(prog: str = "python -m roleplay", progs: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The CLI; `progs` renames subcommands in usage lines (`python -m rag roleplay` is `chat` here)."""
    p = argparse.ArgumentParser(prog=prog, description="书问 roleplay: the book's characters speak.")
    sub = p.add_subparsers(dest="command", required=True)
    progs = progs or {}

    def common(x: argparse.ArgumentParser, name: bool = True) -> None:
        x.add_argument("--novel", help="the novel (store) the character belongs to (default: setting default_novel)")
        if name:
            x.add_argument("--name", "--character", dest="name", required=True,
                           help="the character's name, e.g. 孙悟空")
        add_settings_args(x)

    d = sub.add_parser("draft", prog=progs.get("draft"), help="draft a card from the book (model summary + own lines)",
                       description="Draft a Character Card V2 from the novel's passages and the character's lines.")
    common(d)
    d.add_argument("--aliases", help="comma-separated other names the book uses, e.g. 悟空,行者,大圣")
    d.add_argument("--self-ref", help="how the character says 'I', e.g. 老孙; the speakers whose lines use it become "
                                      "aliases (行者, 大圣, 猴王…)")
    d.add_argument("--no-model", action="store_true", help="no model summary: only lines, aliases and passages")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_draft)

    i = sub.add_parser("import", prog=progs.get("import"), help="import a card (.json or SillyTavern .png)", description="Import a card.")
    i.add_argument("file", type=Path)
    i.add_argument("--novel", help="attach the card to this novel (default: the card's extensions.shuwen.novel)")
    add_settings_args(i)
    i.set_defaults(func=_import)

    e = sub.add_parser("export", prog=progs.get("export"), help="export a card as .json or .png", description="Export a card.")
    common(e)
    e.add_argument("--out", required=True, help="file to write (.json or .png)")
    e.add_argument("--image", help="PNG picture to carry the card (default: a plain one)")
    e.set_defaults(func=_export)

    l_ = sub.add_parser("list", prog=progs.get("list"), help="the characters of a novel", description="List the cards of a novel.")
    common(l_, name=False)
    l_.set_defaults(func=_list)

    c = sub.add_parser("chat", prog=progs.get("chat"), help="talk with a character (one message, a task, a view, or interactive)",
                       description="Chat as the character, grounded in the book's passages and own lines.")
    common(c)
    c.add_argument("message", nargs="?", help="one message (interactive when left out)")
    c.add_argument("--task", help="one of 介绍 故事 信 聊天 时间 关于 了解")
    c.add_argument("--topic", help="the task's topic (故事 信 聊天 时间 关于)")
    c.add_argument("--extra", "--info", dest="extra", help="extra information for the task or view")
    c.add_argument("--view", help="this character's view of another character (a name)")
    c.add_argument("--read-to", help="spoiler guard: only the book up to here (第20回, 20 or 40%%)")
    c.add_argument("--temperature", dest="roleplay_temperature", type=float, metavar="T",
                   help="sampling temperature of the characters' voice (default: setting roleplay_temperature, 0.7)")
    c.add_argument("--no-book", action="store_true", help="the card alone: no passages, no own lines (to compare)")
    c.add_argument("--history", type=Path, help="a scene to continue: lines of `speaker：text`, or a chatroom's "
                   ".jsonl; the others' lines stay theirs, and their last ones are what the character answers")
    c.add_argument("--json", action="store_true", help="print the reply with its passages and lines as JSON")
    c.set_defaults(func=_chat)

    r = sub.add_parser("chatroom", prog=progs.get("chatroom"), help="several characters talk on a topic; interject, stop, save the transcript",
                       description="A multi-character chatroom: each speaks from its own card and the book.")
    common(r, name=False)
    r.add_argument("--characters", required=True, help="comma-separated names with cards, e.g. 孙悟空,猪八戒,沙悟净")
    r.add_argument("--topic", required=True, help="what they talk about")
    r.add_argument("--turns", type=int, default=4, help="turns to run before stopping or asking you (default 4)")
    r.add_argument("--order", choices=["natural", "list", "random"], default="natural",
                   help="turn order: natural (who is named speaks next, then who spoke least), list, random")
    r.add_argument("--seed", type=int, help="seed for the random turn order")
    r.add_argument("--interactive", action="store_true",
                   help="after the turns, keep going: Enter for the next speaker, text to interject, /quit")
    r.add_argument("--out", help="save the transcript to OUT.jsonl and OUT.md (after every turn)")
    r.add_argument("--read-to", help="spoiler guard: only the book up to here (第20回, 20 or 40%%)")
    r.add_argument("--temperature", dest="roleplay_temperature", type=float, metavar="T",
                   help="sampling temperature of the characters' voice (default: setting roleplay_temperature, 0.7)")
    r.add_argument("--json", action="store_true", help="print each turn as a JSON line")
    r.set_defaults(func=_chatroom)
    return p


def main(argv: list[str] | None = None, prog: str = "python -m roleplay", progs: dict[str, str] | None = None) -> int:
    args = build_parser(prog, progs).parse_args(argv)
    return run_main(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
