"""Data-generation prompt templates are JSON files (finetune/prompts/*.json) read by this tiny Prompter."""

from __future__ import annotations

import json
from pathlib import Path

from rag.errors import ShuWenError

PROMPTS = Path(__file__).parent / "prompts"


class DataPrompter:
    """One template: `system`, `user` and `retry` strings plus the JSON `schema` the reply must satisfy."""

    def __init__(self, name_or_path: str):
        path = Path(name_or_path)
        if not path.suffix:
            path = PROMPTS / f"{name_or_path}.json"
        try:
            self.template = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ShuWenError(f"prompt template not found: {path}") from None
        except json.JSONDecodeError as e:
            raise ShuWenError(f"prompt template {path} is not valid JSON: {e.msg}") from None
        missing = {"system", "user", "retry", "schema"} - set(self.template)
        if missing:
            raise ShuWenError(f"prompt template {path} lacks {sorted(missing)}")
        self.schema: dict = self.template["schema"]

    def messages(self, **fields: object) -> list[dict]:
        """System and user messages with the fields filled in."""
        return [{"role": "system", "content": self.template["system"].format(**fields)},
                {"role": "user", "content": self.template["user"].format(**fields)}]

    def retry(self, error: str) -> str:
        return self.template["retry"].format(error=error)
