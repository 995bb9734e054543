"""`python -m rag eval`: retrieval hit@k / MRR, answer accuracy and refusal, per kind, with latency.

Each wrong answer to an answerable item is put down to the first stage that lost it: retrieval (no
passage of the pool holds an accepted answer), compaction (the pool holds one, the evidence shown to the
model does not: the ranking lost it), refusal (shown, but the support check refused), reading (shown,
answered wrongly) or grounding (right, but withheld). `shown_hit` is the share of answerable items whose
shown evidence holds an accepted answer: what the model could read.

Item format: ../shared/eval/README.md. Every run writes a JSON report (with one record per item, so a run
can be re-scored) and a Markdown summary.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from rag.errors import BadInputError
from rag.ingest.decode import to_simplified
from rag.retrieve import Passage
from rag.spoiler import NOT_YET

REFUSAL = re.compile(r"书中(并)?没有|书里(并)?没有|原文(中)?(并)?没有|没有(提到|提及|说明|写到|交代|记载)|未(提到|提及|说明|写到|交代|记载)"
                     r"|不知道|无法(回答|确定|得知)|没有相关|不得而知|并未")
Answerer = Callable[[str], tuple]  # (reply, passages, timings[, extra fields for the record])


def load_qa(path: Path) -> list[dict]:
    """QA items; one clear error for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no such QA file: {path}")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInputError(f"{path}:{n}: not valid JSON ({e.msg})") from None
        if not isinstance(item, dict) or "question" not in item:
            raise BadInputError(f"{path}:{n}: each line needs at least a 'question'")
        item.setdefault("id", f"line-{n}")
        item.setdefault("kind", "unknown")
        item.setdefault("answerable", bool(item.get("answers")))
        items.append(item)
    if not items:
        raise BadInputError(f"{path} has no QA items")
    return items


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", to_simplified(s))


def passage_hits(p: Passage | dict, item: dict) -> list[bool]:
    """For each evidence span: does this passage contain it or overlap its offsets?"""
    text = p["text"] if isinstance(p, dict) else p.text
    start = p["start"] if isinstance(p, dict) else p.start
    end = p["end"] if isinstance(p, dict) else p.end
    ev, offs = item.get("evidence", []), item.get("evidence_offsets", [])
    out = []
    for i in range(max(len(ev), len(offs))):
        inside = i < len(ev) and ev[i] in text
        overlap = i < len(offs) and start < offs[i][1] and offs[i][0] < end
        out.append(inside or overlap)
    return out


def first_hit_rank(passages: list, item: dict) -> int | None:
    """1-based rank of the first passage that hits any evidence, or None."""
    for r, p in enumerate(passages, 1):
        if any(passage_hits(p, item)):
            return r
    return None


def all_evidence_hit(passages: list, item: dict) -> bool:
    """Every evidence span is covered by some passage (multihop)."""
    hits = [passage_hits(p, item) for p in passages]
    n = max((len(h) for h in hits), default=0)
    return n > 0 and all(any(h[i] for h in hits if i < len(h)) for i in range(n))


def zh_numeral(n: int) -> str:
    """320 → 三百二十, 76000 → 七万六千, 20 → 二十 (how this kind of book writes numbers)."""
    digits = "零一二三四五六七八九"
    if n == 0:
        return "零"
    if n >= 10000:
        high, low = divmod(n, 10000)
        return zh_numeral(high) + "万" + ("" if low == 0 else ("零" if low < 1000 else "") + zh_numeral(low))
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, value)
        if d:
            out += ("零" if zero and out else "") + digits[d] + unit
            zero = False
        else:
            zero = True
    return out[1:] if out.startswith("一十") else out


def answer_correct(reply: str, item: dict) -> bool:
    """The reply contains any accepted answer (Traditional→Simplified, whitespace ignored, 20 ≡ 二十)."""
    r = _norm(reply)
    r_zh = re.sub(r"\d+", lambda m: zh_numeral(int(m.group())), r)
    return any(_norm(a) in r or _norm(a) in r_zh for a in item.get("answers", []))


def _holds_answer(texts: list[str], item: dict) -> bool:
    body = _norm("".join(texts))
    return any(_norm(a) and _norm(a) in body for a in item.get("answers", []))


def lost_at(item: dict, reply: str, retrieved: list[str], shown: list[str] | None) -> str:
    """Where a wrong answer was lost: retrieval, compaction, refusal or reading (`shown` None = the passages)."""
    if not _holds_answer(retrieved, item):
        return "retrieval"
    if shown is not None and not _holds_answer(shown, item):
        return "compaction"
    return "refusal" if is_refusal(reply) else "reading"


LOSSES = ("retrieval", "compaction", "refusal", "reading", "grounding")


def is_refusal(reply: str) -> bool:
    """The reply says the book does not tell."""
    return bool(REFUSAL.search(to_simplified(reply)))


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 3)


def summarise(records: list[dict], k: int) -> dict:
    """Metrics over records, overall and per kind."""

    def block(rs: list[dict]) -> dict:
        later = [r for r in rs if r.get("beyond_read_to")]
        ans = [r for r in rs if r["answerable"]]
        un = [r for r in rs if not r["answerable"] and not r.get("beyond_read_to")]
        out: dict = {"items": len(rs)}
        if ans:
            out[f"hit@{k}"] = round(sum(r["hit_rank"] is not None for r in ans) / len(ans), 3)
            out["hit@5"] = round(sum(r["hit_rank"] is not None and r["hit_rank"] <= 5 for r in ans) / len(ans), 3)
            out["mrr"] = round(sum(1 / r["hit_rank"] for r in ans if r["hit_rank"]) / len(ans), 3)
            shown = [r for r in ans if "shown_hit" in r]
            if shown:  # an accepted answer stands in the evidence the model was shown
                out["shown_hit"] = round(sum(r["shown_hit"] for r in shown) / len(shown), 3)
            multi = [r for r in ans if r.get("hops", 1) > 1]
            if multi:
                out["all_evidence_hit"] = round(sum(r["all_evidence_hit"] for r in multi) / len(multi), 3)
            if any("correct" in r for r in ans):
                out["accuracy"] = round(sum(r.get("correct", False) for r in ans) / len(ans), 3)
                for stage in LOSSES:  # counts of wrong answers by the stage that lost them
                    out[f"lost_{stage}"] = sum(r.get("lost_at") == stage for r in ans)
            said = [r for r in ans if "citations" in r and "answer" in r and not is_refusal(r["answer"])]
            if said:  # answers that say something: cited at all, and cited to a chapter that holds the evidence
                out["cited"] = round(sum(bool(r["citations"]) for r in said) / len(said), 3)
                cited = [r for r in said if r["citations"]]
                if cited:
                    out["cited_right"] = round(sum(bool(set(r["citations"]) & set(r.get("chapters", [])))
                                                   for r in cited) / len(cited), 3)
        if un and any("refused" in r for r in un):
            out["refusal"] = round(sum(r.get("refused", False) for r in un) / len(un), 3)
        if any("ungrounded" in r for r in rs):  # answers withheld by grounded_only, answerable items and others
            out["withheld"] = sum(bool(r.get("ungrounded")) for r in rs if "ungrounded" in r)
        if later and any("held_back" in r for r in later):  # spoiler guard: answers told after read_to
            out["beyond_read_to"] = len(later)
            out["held_back"] = round(sum(r["held_back"] for r in later) / len(later), 3)
            out["spoiled"] = sum(r["spoiled"] for r in later)
        if any("raw" in r for r in rs):  # answers a stage changed beyond adding to them: streamed, they are withdrawn
            out["withdrawn_if_streamed"] = sum(not r["answer"].startswith(r["raw"]) for r in rs if "raw" in r)
        for key in ("retrieval_s", "first_token_s", "first_visible_s", "total_s"):
            vals = [r["timings"][key] for r in rs if r["timings"].get(key) is not None]
            if vals:
                out[f"{key}_p50"] = _pct(vals, 0.5)
                out[f"{key}_p95"] = _pct(vals, 0.95)
        return out

    kinds = sorted({r["kind"] for r in records})
    return {"overall": block(records), "by_kind": {kd: block([r for r in records if r["kind"] == kd]) for kd in kinds}}


def beyond(item: dict, read_end: int | None) -> bool:
    """Spoiler guard: whether the item's evidence starts after the reader's readable part of the book."""
    offs = item.get("evidence_offsets") or []
    return read_end is not None and bool(offs) and max(a for a, _ in offs) >= read_end


def run_eval(items: list[dict], retrieve: Callable[[str], list[Passage]], k: int,
             answer: Answerer | None = None, progress: bool = True, read_end: int | None = None) -> dict:
    """Evaluate retrieval (and answers when `answer` is given) on every item.

    With the spoiler guard on (`read_end`), answerable items whose evidence lies later are scored apart:
    the right reply holds the answer back (`held_back`), and one that names it anyway is `spoiled`.
    """
    from tqdm import tqdm

    records = []
    for item in tqdm(items, desc="eval", unit="q", disable=not progress):
        timings: dict = {}
        if answer is None:
            t = time.perf_counter()
            passages = retrieve(item["question"])[:k]
            timings["retrieval_s"] = round(time.perf_counter() - t, 4)
            reply, extra = None, []
        else:
            reply, passages, timings, *extra = answer(item["question"])
        rec = {"id": item["id"], "question": item["question"], "kind": item["kind"], "hops": item.get("hops", 1),
               "chapters": item.get("chapter", []),
               "answerable": item["answerable"], "answers": item.get("answers", []),
               "hit_rank": first_hit_rank(passages, item) if item["answerable"] else None,
               "all_evidence_hit": all_evidence_hit(passages, item) if item["answerable"] else None,
               "retrieved": [p.to_dict() for p in passages], "timings": timings}
        if extra:  # e.g. the support check's P(yes), so a run can be re-scored at any threshold
            rec.update(extra[0])
        if item["answerable"] and "shown" in rec:
            rec["shown_hit"] = _holds_answer([p["text"] for p in rec["shown"]], item)
        if item["answerable"] and beyond(item, read_end):
            rec.update(answerable=False, beyond_read_to=True, hit_rank=None, all_evidence_hit=None)
            if reply is not None:
                rec.update(answer=reply, held_back=reply.startswith(NOT_YET[:6]), spoiled=answer_correct(reply, item))
            records.append(rec)
            continue
        if reply is not None:
            rec["answer"] = reply
            if item["answerable"]:
                rec["correct"] = answer_correct(reply, item)
                if not rec["correct"]:
                    shown = [p["text"] for p in rec["shown"]] if "shown" in rec else None
                    if rec.get("ungrounded") and answer_correct(rec["ungrounded"], item):
                        rec["lost_at"] = "grounding"  # right, but withheld: its words were not in the evidence
                    else:  # a withheld wrong answer was lost where the model's own answer was
                        rec["lost_at"] = lost_at(item, rec.get("ungrounded") or reply, [p.text for p in passages],
                                                 shown)
            else:
                rec["refused"] = is_refusal(reply)
        records.append(rec)
    return {"k": k, "metrics": summarise(records, k), "records": records}


def markdown(report: dict, title: str) -> str:
    """A readable summary of one or more systems' metrics."""
    systems = report["systems"]
    lines = [f"# {title}", "", f"- QA file: `{report['qa']}`", f"- novel: `{report['name']}`",
             f"- k: {report['k']}", f"- command: `{report['command']}`", ""]
    keys: list[str] = []
    for s in systems.values():
        for key in s["metrics"]["overall"]:
            if key not in keys:
                keys.append(key)
    lines += ["| system | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, s in systems.items():
        o = s["metrics"]["overall"]
        lines.append(f"| {name} | " + " | ".join(str(o.get(key, "")) for key in keys) + " |")
    for name, s in systems.items():
        lines += ["", f"## {name}: by kind", ""]
        kk = [x for x in keys if x != "items"]
        lines += ["| kind | items | " + " | ".join(kk) + " |", "|---" * (len(kk) + 2) + "|"]
        for kind, b in s["metrics"]["by_kind"].items():
            lines.append(f"| {kind} | {b['items']} | " + " | ".join(str(b.get(x, "")) for x in kk) + " |")
    return "\n".join(lines) + "\n"


def closed_book_answerer(settings, name: str) -> Answerer:
    """Answer from the chat model alone (no retrieval), with the `closed_book` prompt: before/after fine-tuning."""
    from rag.generate.backends import get_backend
    from rag.generate.prompter import Prompter
    from rag.generate.repair import repair

    backend, prompter = get_backend(settings), Prompter("closed_book")

    def answer(question: str) -> tuple[str, list[Passage], dict]:
        t = time.perf_counter()
        reply = backend.complete(prompter.messages(name, question, []))
        return repair(reply, settings.answer_t2s), [], {"total_s": round(time.perf_counter() - t, 3)}

    return answer

