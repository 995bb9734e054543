"""The commands roleplay adds to `shuwen` and `python -m rag` (entry point group shuwen.commands); kept light, so
`shuwen --help` imports nothing of the package until one of them runs."""

from __future__ import annotations

from collections.abc import Callable

from rag.cli import Command


def _as(prefix: list[str]) -> Callable[[list[str], str], int]:
    """`card draft …` is `python -m roleplay draft …`, `roleplay …` is `chat …`, `chatroom …` is `chatroom …`."""

    def run(argv: list[str], prog: str) -> int:
        from roleplay.cli import main

        base = prog.rsplit(" ", 1)[0]
        return main(prefix + argv, prog=prog, progs={"chat": f"{base} roleplay", "chatroom": f"{base} chatroom"})

    return run


def commands() -> list[Command]:
    return [Command("card", "character cards: draft|import|export|list (see card --help)", _as([])),
            Command("roleplay", "talk with a character: --character NAME [message] [--task 介绍 --info …]",
                    _as(["chat"])),
            Command("chatroom", "characters talk on a topic: --characters A,B,C --topic … --turns M",
                    _as(["chatroom"]))]
