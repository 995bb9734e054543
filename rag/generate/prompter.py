"""Prompt templates are JSON data files (rag/generate/prompts/*.json) read by this tiny Prompter."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag.errors import ShuWenError
from rag.retrieve import Passage

PROMPTS = Path(__file__).parent / "prompts"
_DIGITS = "零一二三四五六七八九"


def chapter_label(number: int, title: str) -> str:
    """〔第十四回〕-style label from a chapter's number and title."""
    head = title.split("　")[0].split(" ")[0] if title else ""
    if head.startswith("第"):
        return head
    if head:
        return head
    return f"第{zh_number(number)}回"


def zh_number(n: int) -> str:
    """14 → 十四, 120 → 一百二十."""
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + _DIGITS[rest] if rest < 10 else ("一" + zh_number(rest) if rest < 20 else zh_number(rest)))
    return _DIGITS[n // 100] + "百" + tail


def load_template(name_or_path: str, folder: Path, required: set[str]) -> dict:
    """A JSON prompt template by name (in `folder`) or path, with its required keys, or one clear error."""
    path = Path(name_or_path)
    if not path.suffix:
        path = folder / f"{name_or_path}.json"
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShuWenError(f"prompt template not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ShuWenError(f"prompt template {path} is not valid JSON: {e.msg}") from None
    missing = required - set(template)
    if missing:
        raise ShuWenError(f"prompt template {path} lacks {sorted(missing)}")
    return template


class Prompter:
    """Fill a template: system message, user message with numbered passages, rewrite prompt."""

    def __init__(self, name_or_path: str = "default"):
        self.template = load_template(name_or_path, PROMPTS, {"system", "user", "passage"})

    @property
    def refusal(self) -> str:
        return self.template.get("refusal", "")

    @property
    def answer_cue(self) -> str:
        """What the user message ends with after the question (回答：); a small model sometimes echoes it."""
        return self.template["user"].rsplit("{question}", 1)[-1].strip()

    def passages(self, passages: list[Passage]) -> str:
        return self._numbered([(p.text, chapter_label(p.chapter, p.chapter_title)) for p in passages])

    def _numbered(self, pieces: list[tuple[str, str]]) -> str:
        return "\n".join(self.template["passage"].format(n=i, text=text, chapter_label=label)
                         for i, (text, label) in enumerate(pieces, 1))

    def examples(self) -> list[dict]:
        """The template's worked examples (`examples`: passages, question, answer) as earlier chat turns.

        They come right after the system message, so llama.cpp caches them with it; the support check's prompt holds
        them too (`check`), or every question would evaluate them again (+7 to 9 s first token, docs/finetune.md).
        """
        out = []
        for ex in self.template.get("examples", []):
            pieces = [(p["text"], p["chapter_label"]) for p in ex["passages"]]
            out += [{"role": "user", "content": self.template["user"].format(passages=self._numbered(pieces),
                                                                             question=ex["question"])},
                    {"role": "assistant", "content": ex["answer"]}]
        return out

    def borrowed(self, answer: str, allowed: str, n: int = 3) -> str:
        """A piece (n Chinese characters) of `answer` that stands in the worked examples but not in `allowed` (the
        question and the evidence shown), or "": the model copied an example instead of reading the book."""
        if not self.template.get("examples"):
            return ""
        if not hasattr(self, "_example_text"):
            self._example_text = "".join((ex["answer"] if ex["answer"] != self.refusal else "")
                                         + "".join(p["text"] for p in ex["passages"])
                                         for ex in self.template["examples"])
        chars = re.sub(r"〔[^〕]*〕|[^\u4e00-\u9fff]", "", answer)
        return next((chars[i:i + n] for i in range(len(chars) - n + 1)
                     if chars[i:i + n] in self._example_text and chars[i:i + n] not in allowed), "")

    def messages(self, novel: str, question: str, passages: list[Passage], knowledge: bool = False) -> list[dict]:
        """Chat messages; the system message comes first so llama.cpp can reuse its cached prefix."""
        system = self.template["system_with_knowledge" if knowledge else "system"].format(novel=novel)
        user = self.template["user"].format(passages=self.passages(passages), question=question)
        return [{"role": "system", "content": system}, *self.examples(), {"role": "user", "content": user}]

    def check(self, novel: str, question: str, passages: list[Passage]) -> list[dict] | None:
        """Messages asking whether the passages answer the question (None if the template has no check).

        The system message and worked examples, then a user message that starts exactly like the answer prompt's:
        llama.cpp evaluates the shared prefix once for both, and the examples once for every question.
        """
        if "check" not in self.template:
            return None
        system = self.template["system"].format(novel=novel)
        user = self.template["check"].format(passages=self.passages(passages), question=question)
        return [{"role": "system", "content": system}, *self.examples(), {"role": "user", "content": user}]

    @property
    def check_choices(self) -> list[str]:
        """[yes, no] first words of the check's reply."""
        return list(self.template.get("check_choices", ["有", "没有"]))

    def rewrite(self, history: list[tuple[str, str]], question: str, novel: str | None = None) -> list[dict]:
        """Messages that turn a follow-up into a standalone question.

        With `novel`, the answer's system message comes first, so the answer that follows finds the system
        prompt still in llama.cpp's prefix cache.
        """
        text = "\n".join(f"读者：{q}\n助手：{a}" for q, a in history[-3:])
        user = {"role": "user", "content": self.template["rewrite"].format(history=text, question=question)}
        if novel is None:
            return [user]
        return [{"role": "system", "content": self.template["system"].format(novel=novel)}, user]
