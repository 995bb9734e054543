"""Data-generation prompt templates are JSON files (finetune/prompts/*.json) read by this tiny Prompter."""

from __future__ import annotations

from pathlib import Path

from rag.generate.prompter import load_template

PROMPTS = Path(__file__).parent / "prompts"


class DataPrompter:
    """One template: `system`, `user` and `retry` strings plus the JSON `schema` the reply must satisfy."""

    def __init__(self, name_or_path: str):
        self.template = load_template(name_or_path, PROMPTS, {"system", "user", "retry", "schema"})
        self.schema: dict = self.template["schema"]

    def messages(self, **fields: object) -> list[dict]:
        """System and user messages with the fields filled in."""
        return [{"role": "system", "content": self.template["system"].format(**fields)},
                {"role": "user", "content": self.template["user"].format(**fields)}]

    def retry(self, error: str) -> str:
        return self.template["retry"].format(error=error)
