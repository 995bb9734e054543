"""The `serve` command: the OpenAI-compatible HTTP API over the library (registered as a `shuwen.commands` entry)."""

from __future__ import annotations

import argparse

from rag.cli import Command, gen_args
from rag.errors import run_main
from rag.settings import settings_from_args


def build_parser(prog: str = "shuwen serve") -> argparse.ArgumentParser:
    v = argparse.ArgumentParser(prog=prog, description="OpenAI-compatible HTTP API: each built novel is a model for "
                                "/v1/chat/completions; also /v1/audio/speech, /v1/novels (upload, build jobs, search), "
                                "/docs.")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    v.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    v.add_argument("--allow-no-auth", action="store_true",
                   help="serve a non-loopback address without API keys (anyone who can reach the port may use it)")
    gen_args(v)
    return v


def _serve(args: argparse.Namespace) -> int:
    from api.server import serve

    return serve(settings_from_args(args), args.host, args.port, args.allow_no_auth)


def main(argv: list[str] | None = None, prog: str = "shuwen serve") -> int:
    return run_main(_serve, build_parser(prog).parse_args(argv))


def commands() -> list[Command]:
    return [Command("serve", "serve the OpenAI-compatible HTTP API", main)]
