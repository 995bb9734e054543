"""One settings object for every entry point: defaults < TOML file < SHUWEN_* env < CLI flags.

Settings come in typed, frozen sections (rag/settings_sections.py: store, embedding, ingest, retrieval, model,
answer, roleplay, speech, api, paths), one TOML table each. Every field carries its help (and its choices, when its type is a
Literal), from which the CLI choices, the SHUWEN_<NAME> variables and the README's table are generated (`python -m
rag.settings --markdown`). Field names are unique across sections, so `settings.k` reads `settings.retrieval.k`, and
the flat keys of older files (at the top level) keep working through one alias table (WHERE).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rag.errors import ShuWenError
from rag.settings_sections import (
    BUNDLED_EMBEDDING,
    ROOT,
    SECTIONS,
    AnswerSettings,
    ApiSettings,
    EmbeddingSettings,
    IngestSettings,
    ModelSettings,
    PathSettings,
    RetrievalSettings,
    RoleplaySettings,
    SpeechSettings,
    StoreSettings,
)

__all__ = ["BUNDLED_EMBEDDING", "ROOT", "SECTIONS", "Settings", "load_settings", "overlay", "add_settings_args",
           "settings_from_args", "choices", "markdown_table"]

DEFAULT_CONFIG = ROOT / "shuwen.toml"
SECRETS = frozenset({"openai_api_key", "api_keys", "remote_api_key"})  # never written into a report
# the alias table: each field's section (a flat key, at a file's top level, in SHUWEN_<NAME> or a flag, names a field)
WHERE: dict[str, str] = {f.name: sec for sec, cls in SECTIONS.items() for f in fields(cls)}
TYPES: dict[str, Any] = {n: t for cls in SECTIONS.values() for n, t in typing.get_type_hints(cls).items()}
CHOICES: dict[str, tuple] = {n: typing.get_args(t) for n, t in TYPES.items() if typing.get_origin(t) is typing.Literal}
OLD_TABLES = {"embeddings": "embedding"}  # table names of earlier docs


def choices(name: str) -> list[str]:
    """The values a Literal setting may take (the CLI's `choices=`), from its type."""
    return list(CHOICES[name])


@dataclass(frozen=True)
class Settings:
    """Every knob of 书问, in sections; builder, reader and app all read the same values (settings.k or
    settings.retrieval.k)."""

    store: StoreSettings = field(default_factory=StoreSettings)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    roleplay: RoleplaySettings = field(default_factory=RoleplaySettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    paths: PathSettings = field(default_factory=PathSettings)

    def __getattr__(self, name: str) -> Any:  # only for names that are not sections: a field, read flat
        section = WHERE.get(name)
        if section is None:
            raise AttributeError(f"no setting {name!r}")
        return getattr(object.__getattribute__(self, section), name)

    @property
    def beside_store(self) -> Path:
        """Where files that belong with the stores live (BM25 indexes, build locks, character cards): the
        persistent store's folder, or cache_dir when the store is a Chroma server."""
        return Path(self.store_dir) if self.store_backend == "persistent" else self.cache_dir

    @property
    def uploads_dir(self) -> Path:
        """Where novels uploaded in the page are kept, so their stores can be rebuilt."""
        return Path(self.upload_dir).expanduser() if self.upload_dir else self.cache_dir / "uploads"

    @property
    def tts_dir(self) -> Path:
        """Where spoken answers are cached, one file per (engine, voice, text)."""
        return Path(self.tts_cache).expanduser() if self.tts_cache else self.cache_dir / "tts"

    def record(self) -> dict[str, Any]:
        """Every value as JSON data (flat names), secrets masked: what a report stores of the configuration it ran."""
        out = {}
        for name in WHERE:
            v = getattr(self, name)
            out[name] = "***" if name in SECRETS and v else str(v) if isinstance(v, Path) else v
        return out

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed, by flat name (None values are ignored)."""
        by_section: dict[str, dict[str, Any]] = {}
        for name, v in changes.items():
            if v is None:
                continue
            if name not in WHERE:
                raise ShuWenError(f"unknown setting {name!r}")
            by_section.setdefault(WHERE[name], {})[name] = v
        return dataclasses.replace(self, **{sec: dataclasses.replace(getattr(self, sec), **vals)
                                            for sec, vals in by_section.items()})


def _coerce(name: str, raw: Any) -> Any:
    t = TYPES[name]
    kind = "str" if typing.get_origin(t) is typing.Literal else getattr(t, "__name__", str(t))
    try:
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw).expanduser()
        return str(raw)
    except (TypeError, ValueError):
        raise ShuWenError(f"setting {name!r}: cannot read {raw!r} as {kind}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings of a TOML file, by flat name, checked and coerced: a table is a section and holds only that
    section's keys; a key at the top level is an old flat key (the alias table says where it belongs)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShuWenError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ShuWenError(f"config file {path} is not valid TOML: {e}") from None
    out: dict[str, Any] = {}

    def put(key: str, value: Any, table: str | None) -> None:
        if key not in WHERE:
            raise ShuWenError(f"config file {path}: unknown setting {key!r}" + (f" in [{table}]" if table else ""))
        if table is not None and WHERE[key] != table:
            raise ShuWenError(f"config file {path}: {key!r} belongs in [{WHERE[key]}], not [{table}]")
        if key in out:
            raise ShuWenError(f"config file {path}: {key!r} is set twice")
        out[key] = _coerce(key, value)

    for key, value in data.items():
        if isinstance(value, dict):
            table = OLD_TABLES.get(key, key)
            if table not in SECTIONS:
                raise ShuWenError(f"config file {path}: no section [{key}]; the sections are "
                                  + ", ".join(f"[{s}]" for s in SECTIONS))
            for k, v in value.items():
                put(k, v, table)
        else:
            put(key, value, None)
    return out


def overlay(settings: Settings, path: Path) -> Settings:
    """`settings` with the values of one TOML file on top (eval's --compare: another configuration, same run)."""
    return _checked(settings.replace(**_read_toml(path)))


def load_settings(config: Path | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, a TOML file (SHUWEN_CONFIG or ./shuwen.toml), env and overrides (flat names)."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    path = Path(config or env.get("SHUWEN_CONFIG") or DEFAULT_CONFIG)
    if config or env.get("SHUWEN_CONFIG") or path.exists():
        values.update(_read_toml(path))
    for name in WHERE:
        if (raw := env.get(f"SHUWEN_{name.upper()}")) is not None:
            values[name] = _coerce(name, raw)
    for name, v in overrides.items():
        if v is not None:
            if name not in WHERE:
                raise ShuWenError(f"unknown setting {name!r}")
            values[name] = _coerce(name, v)
    return _checked(Settings().replace(**values))


def _checked(s: Settings) -> Settings:
    """`s`, once its values that only some words or ranges may take are checked (one clear error each)."""
    for name, allowed in CHOICES.items():
        if getattr(s, name) not in allowed:
            raise ShuWenError(f"{name} must be {' or '.join(map(repr, allowed))}, not {getattr(s, name)!r} "
                              f"(in [{WHERE[name]}])")
    if s.evidence_pool < 1 or s.evidence_windows < 0 or s.evidence_embed < 1:
        raise ShuWenError("evidence_pool and evidence_embed must be ≥ 1, evidence_windows ≥ 0")
    if not 0 <= s.window_cover <= 1:
        raise ShuWenError(f"window_cover must be between 0 and 1, not {s.window_cover}")
    from rag.spoiler import parse_read_to

    parse_read_to(s.read_to)  # one clear error now, not at the first question
    if not 0 <= s.chunk_overlap < s.chunk_size:
        raise ShuWenError("chunk_overlap must be ≥ 0 and smaller than chunk_size")
    return s


def add_settings_args(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that touches the store."""
    g = parser.add_argument_group("settings (also SHUWEN_* env vars or shuwen.toml)")
    g.add_argument("--config", type=Path, help="TOML settings file (default ./shuwen.toml if present)")
    g.add_argument("--store", dest="store_dir", type=Path, help="persistent store folder (default chroma/)")
    g.add_argument("--store-backend", dest="store_backend", choices=choices("store_backend"), help="Chroma backend")
    g.add_argument("--chroma-host", help="Chroma server host (http backend)")
    g.add_argument("--chroma-port", type=int, help="Chroma server port (http backend)")
    g.add_argument("--embedding-model", help=f"embedding model of new builds: {BUNDLED_EMBEDDING}, an HF id or a path")
    g.add_argument("--set", dest="set_values", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting for this run, by name or section.name (release=stream, model.temperature=0); "
                        "repeatable; the names, types and choices are README's settings table")


def parse_set(values: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs as flat settings, each checked against its field (one clear error)."""
    out: dict[str, Any] = {}
    for item in values or []:
        key, eq, raw = item.partition("=")
        section, dot, name = key.strip().rpartition(".")
        if not eq or not name:
            raise ShuWenError(f"--set takes KEY=VALUE, not {item!r}")
        if name not in WHERE:
            raise ShuWenError(f"--set: unknown setting {name!r} (README's settings table lists them)")
        if dot and OLD_TABLES.get(section, section) != WHERE[name]:
            raise ShuWenError(f"--set: {name!r} belongs in {WHERE[name]}, not {section}")
        out[name] = _coerce(name, raw.strip())
    return out


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings with the CLI flags of `add_settings_args` (and any other matching flags) applied."""
    overrides = {k: v for k, v in vars(args).items() if k in WHERE and v is not None}
    return load_settings(getattr(args, "config", None), **{**parse_set(getattr(args, "set_values", [])), **overrides})


def _shown(f: dataclasses.Field) -> str:
    if f.metadata.get("shown"):
        return f.metadata["shown"]
    v = f.default
    if isinstance(v, bool):
        return str(v).lower()
    return f"`{v}`" if isinstance(v, str) and v else '`""`' if v == "" else str(v)


def markdown_table() -> str:
    """The README's settings table, generated from the sections and their fields' help."""
    lines = []
    for sec, cls in SECTIONS.items():
        lines += [f"**[{sec}]** {cls.__doc__.strip()}", "", "| setting | default | meaning |", "|---|---|---|"]
        for f in fields(cls):
            help_ = f.metadata["help"] + (f" (one of {', '.join(f'`{c}`' for c in CHOICES[f.name])})"
                                          if f.name in CHOICES else "")
            lines.append(f"| `{f.name}` | {_shown(f)} | {help_} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m rag.settings --markdown   (prints the README's settings table)")
    print(markdown_table(), end="")
