"""Speak as a character: the book's passages about what is asked, the character's own lines nearest to it
(the ChatHaruhi method), the card's persona and fired lore entries, then the chat model in that voice.

A character whose card names no novel (a new character, not in any book) is driven by the card alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rag.contract import Event, Options, released, texts
from rag.errors import BadInputError
from rag.generate.prompter import chapter_label, load_template
from rag.generate.repair import repair
from rag.ingest.speech import own_lines
from rag.retrieve import Passage
from rag.settings import Settings
from roleplay import store
from roleplay.card import active_lore, names, normalize, shuwen, substitute
from roleplay.quality import calls_user_self, cut_loop, is_echo, is_question, new_chars, says_unknown

TEMPLATES = Path(__file__).parent / "prompts"
MAX_LINES = 400  # own lines kept per character (embedded once, cached beside the card)
USER = "你"
# a small chat model drifts back to its assistant persona; these phrases are that persona, never the character
_ASSISTANT = re.compile(r"作为(?:一个|一名)?(?:AI|人工智能|语言模型|智能助手|AI助手|助手)|我(?:只)?是(?:一个|一名)?"
                        r"(?:AI|人工智能|语言模型|AI助手|智能助手|虚拟助手)|(?:大|人工智能)?语言模型|通义千问|Qwen|阿里云"
                        r"|as an AI|I am an AI|language model", re.I)
_CITATION = re.compile(r"〔[^〕]*〕")
# a question whose answer is a fact of the book (who, where, which, how many, when, what is it called); 哪些 asks
# for a view as often as a fact (别人应该了解你哪些事？), so it is the character's unless the book answers
_FACTUAL = re.compile(r"谁|哪(?!些)|几|多少|多[大远重长久高]|何时|何处|什么时候|什么地方|叫什么|什么名|是什么|用什么|什么(?:兵器|法宝|宝贝|东西|来历)")
# a message's opening address by title or kinship (师父！ / 沈先生， / 二师兄，): who is spoken to, not the question
_ADDRESS = re.compile(r"[\u4e00-\u9fff]{0,3}(?:师父|师傅|师兄|师弟|先生|大人|老爷|长老|大王|大圣|陛下|主公|丞相|将军|公子"
                      r"|小姐|姑娘|娘子|哥哥|兄弟|贤弟|[兄哥弟姐妹叔伯爷娘])[，,！!]\s*")
_FIRST_PERSON = re.compile(r"我|俺|咱|吾|本(?:王|宫|座|官)|在下|老孙|老猪|贫僧|洒家|老身|奴家|小的|末将")


@dataclass
class Reply:
    """A character's reply and what it was built from."""

    text: str = ""
    passages: list[Passage] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    lore: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    regenerated: str = ""  # why the first draft was thrown away ("" when it was kept)
    changed: list[str] = field(default_factory=list)  # the stages that changed the model's text, in order
    facts: Any = None  # the book's answer (rag.contract.Answer) the reply had to say, when the message asked one
    citations: list[int] = field(default_factory=list)  # chapters of that answer (出处)

    def to_dict(self) -> dict:
        return {"text": self.text, "passages": [p.to_dict() for p in self.passages], "lines": self.lines,
                "lore": self.lore, "timings": self.timings, "regenerated": self.regenerated,
                "changed": self.changed, "citations": self.citations,
                "facts": None if self.facts is None else {"question": self.facts.standalone,
                                                          "answer": self.facts.answer, "support": self.facts.support}}


def breaks_character(text: str, card: dict) -> str:
    """Why `text` is not the character speaking ("" when it is): the assistant persona, or the character
    talked about in the third person without ever saying 'I'."""
    if not text.strip():
        return "empty"
    if m := _ASSISTANT.search(text):
        return f"assistant persona ({m.group(0)})"
    self_ref = shuwen(card).get("self_ref") or ""
    if _FIRST_PERSON.search(text) or (self_ref and self_ref in text):
        return ""
    for n in names(card):
        if re.search(rf"(?:^|[。！？!?\n])\s*{re.escape(n)}(?:是|在|说|道|认为|觉得|会|曾|一向|这个人|他|她)", text):
            return f"third person ({n})"
    return ""


def unechoed(text: str, prompt: str) -> str:
    """`text` without the clauses it copied from `prompt` (a small model repeats its instructions back)."""
    parts = re.findall(r"[^，。！？!?；\n]+[，。！？!?；]*\n*|\n+", text)
    bare = prompt.replace("“", "").replace("”", "")

    def core(x: str) -> str:
        return x.replace("“", "").replace("”", "").strip("，。！？!?；\n ")

    kept = [x for x in parts if len(core(x)) < 4 or core(x) not in bare]
    text = "".join(kept).strip()
    if text.count("（") + text.count("(") < text.count("）") + text.count(")"):  # the tail of an echoed (…)
        text = re.sub(r"[，、\s]*[）)]", "", text)
    return text.strip().lstrip("，。；")


def settings_for(settings: Settings, card: dict) -> Settings:
    """The settings a character speaks with: its card's backend, endpoint, model, adapter and voice over the
    defaults."""
    sw = shuwen(card)
    over: dict = {}
    if sw.get("voice"):
        over["tts_voice"] = sw["voice"]
    if sw.get("pitch"):
        over["tts_pitch"] = int(sw["pitch"])
    if sw.get("backend"):
        over["chat_backend"] = sw["backend"]
    if sw.get("endpoint"):
        over["openai_base_url"] = sw["endpoint"]
        over.setdefault("chat_backend", "openai")
    if sw.get("model"):
        over["chat_model"] = sw["model"]
    if adapter := sw.get("adapter"):  # a .gguf LoRA rides on the GGUF model; a folder is a peft adapter
        gguf = str(adapter).lower().endswith(".gguf")
        over["lora_gguf" if gguf else "adapter"] = adapter
        if not gguf:
            over.setdefault("chat_backend", "transformers")
    return settings.replace(**over) if over else settings


def last_line(message: str) -> str:
    """The line a reply answers: a scene's message is the others' lines since the character last spoke, each
    labelled `speaker：`; the last one, without its label."""
    lines = [x.strip() for x in message.strip().splitlines() if x.strip()]
    return re.sub(r"^[^：:\s]{1,12}[：:]\s*", "", lines[-1]) if lines else ""


def own_model(card: dict) -> bool:
    """The card names its own backend, endpoint, model or adapter (else it speaks through the caller's model)."""
    sw = shuwen(card)
    return any(sw.get(k) for k in ("backend", "endpoint", "model", "adapter"))


def examples(card: dict, char: str, user: str = USER) -> str:
    """mes_example's <START> blocks as plain dialogue, macros substituted."""
    raw = card["data"]["mes_example"]
    blocks = [b.strip() for b in re.split(r"<START>", raw, flags=re.I) if b.strip()]
    return "\n\n".join(substitute(b, char, user) for b in blocks)


class Character:
    """One card, its book (when it has one) and the chat backend."""

    def __init__(self, settings: Settings, card: dict, backend=None, retriever=None, template: str = "roleplay",
                 grounded: bool = True):
        self.card = normalize(card)
        self.grounded = grounded  # False: the card alone, no passages and no own lines (to measure what the book adds)
        self.settings = settings_for(settings, self.card)
        self.name = self.card["data"]["name"]
        self.novel = shuwen(self.card)["novel"]
        self.template = load_template(template, TEMPLATES, {"system", "user", "tasks", "view", "stay", "room"})
        self._backend, self._retriever = backend, retriever
        self._asker = None

    # --- the book ------------------------------------------------------------------------------------
    @property
    def asker(self):
        """The novel's Asker: its retriever, evidence compaction and spoiler guard (None without a novel)."""
        if self._asker is None and self.novel:
            from rag.answer import Asker

            self._asker = Asker(self.settings, self.novel, self._retriever, self._backend)
        return self._asker

    @property
    def backend(self):
        if self._backend is None:
            from rag.generate.backends import get_backend

            self._backend = get_backend(self.settings)
        return self._backend

    def passages(self, query: str) -> list[Passage]:
        """Compact passages of the book about `query` (up to the reader's read_to), or none without a book."""
        if self.asker is None or not self.grounded:
            return []
        found = self.asker.retriever.search(query, self.settings.k, max_seq=self.asker.max_seq)
        return self.asker.compact(query, found)

    def lines(self) -> tuple[list[dict], np.ndarray]:
        """The character's own lines and their vectors: extracted and embedded once, then read from disk."""
        cached = store.load_lines(self.settings, self.novel, self.name) if self.novel else None
        if cached is not None:
            return cached
        if self.asker is None:
            return [], np.zeros((0, 1), np.float32)
        from rag.index.build import load_for

        m = self.asker.retriever.manifest
        book = load_for(self.settings, Path(m.source_path), m.name)
        found = [ln.to_dict() for ln in own_lines(book.original, names(self.card)) if 6 <= len(ln.text) <= 120]
        if len(found) > MAX_LINES:  # spread over the whole book, not only its first chapters
            step = len(found) / MAX_LINES
            found = [found[int(i * step)] for i in range(MAX_LINES)]
        vecs = np.asarray(self.asker.retriever.emb.embed_passages([x["text"] for x in found]), np.float32) \
            if found else np.zeros((0, 1), np.float32)
        store.save_lines(self.settings, self.novel, self.name, found, vecs)
        return found, vecs

    def nearest_lines(self, query: str, n: int = 4) -> list[str]:
        """The character's own lines most like `query` (read_to respected)."""
        if not self.grounded:
            return []
        found, vecs = self.lines()
        if not found:
            return []
        cut = self.asker.retriever.readable_end(self.asker.max_seq) if self.asker else None
        keep = [i for i, x in enumerate(found) if cut is None or x["start"] < cut]
        if not keep:
            return []
        q = np.asarray(self.asker.retriever.emb.embed_queries([query])[0], np.float32)
        sims = vecs[keep] @ q
        return [found[keep[i]]["text"] for i in np.argsort(-sims, kind="stable")[:n]]

    # --- prompts -------------------------------------------------------------------------------------
    def messages(self, message: str, history: list[tuple[str, str]] | None = None,
                 reply: Reply | None = None, query: str | None = None, room: list[dict] | None = None) -> list[dict]:
        """Chat messages for the character's next reply to `message`. In a chatroom, `room` holds the turns so far
        as chat messages (the character's own as assistant turns, the others' as user turns) and `message` is
        the room's cue."""
        reply = reply if reply is not None else Reply()
        t, d, sw = self.template, self.card["data"], shuwen(self.card)
        recent = " ".join([q + a for q, a in (history or [])[-2:]] + [message])
        query = query or f"{self.name} {message}"
        answered = reply.facts is not None and not self.refused(reply.facts)
        # with the book's answer in hand the passages would only lengthen the prompt (≈ 4 s more to the first token);
        # the reply then stands on the passages the answer came from, which is what 出处 shows
        shown = [] if answered else self.passages(query)
        reply.passages = list(reply.facts.sources) if answered else shown
        # in a room the message is the room's cue (instructions): the lines nearest to the scene are the voice
        reply.lines = self.nearest_lines(query if room is not None else message)
        reply.lore = [substitute(e["content"], self.name, USER) for e in active_lore(self.card, recent)]
        empty = t.get("empty", "")

        def sub(x: str) -> str:
            return substitute(x, self.name, USER).strip() or empty

        system = t["system"].format(
            novel=self.novel or "（书外）", char=self.name, user=USER, self_ref=self._self_ref(),
            identity=sub(sw.get("identity", "")), description=sub(d["description"]),
            personality=sub(d["personality"]), scenario=sub(d["scenario"]), lore="；".join(reply.lore) or empty,
            lines="\n".join(t.get("line", "{text}").format(text=x) for x in reply.lines) or empty,
            passages="\n".join(t.get("passage", "{text}").format(text=p.text, chapter_label=chapter_label(
                p.chapter, p.chapter_title)) for p in shown) or empty)
        if d["system_prompt"].strip():  # the card's own system prompt wins; {{original}} keeps ours inside it
            system = substitute(d["system_prompt"].replace("{{original}}", system), self.name, USER)
        if ex := examples(self.card, self.name):
            system += "\n" + t.get("examples_header", "{examples}").format(examples=ex)
        out = [{"role": "system", "content": system}]
        for q, a in (history or [])[-6:]:
            out += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        last = message if room is not None else \
            t["user"].format(message=message, char=self.name, self_ref=self._self_ref())
        if reply.facts is not None:  # the book's answer, to be said in the character's voice
            said = _CITATION.sub("", reply.facts.answer).strip()
            note = t["facts_none"] if self.refused(reply.facts) else t["facts"]
            last += "\n" + note.format(answer=said, question=reply.facts.standalone, user=USER,
                                        self_ref=self._self_ref())
        if d["post_history_instructions"].strip():
            last += "\n" + substitute(d["post_history_instructions"].replace("{{original}}", ""), self.name, USER)
        for m in room or []:  # consecutive user turns merge: the chat template expects alternating roles
            if out[-1]["role"] == m["role"] == "user":
                out[-1] = {"role": "user", "content": out[-1]["content"] + "\n" + m["content"]}
            else:
                out.append(dict(m))
        if out[-1]["role"] == "user" and room:
            out[-1] = {"role": "user", "content": out[-1]["content"] + "\n" + last}
            return out
        return out + [{"role": "user", "content": last}]

    def task(self, task: str, topic: str = "", extra: str = "") -> str:
        """The message of one of the seven tasks (介绍 故事 信 聊天 时间 关于 了解)."""
        tasks = self.template["tasks"]
        if task not in tasks:
            raise BadInputError(f"task must be one of {', '.join(tasks)}, not {task!r}")
        return tasks[task]["prompt"].format(topic=topic or "随便什么", extra=extra, user=USER).strip()

    def view_of(self, other: dict | str, extra: str = "") -> tuple[str, str]:
        """(message, retrieval query) for this character's view of another one (a card or a name)."""
        other_names = names(normalize(other)) if isinstance(other, dict) else [other]
        return self.template["view"].format(other=other_names[0], extra=extra).strip(), \
            f"{self.name} {' '.join(other_names[:3])}"

    # --- speaking ------------------------------------------------------------------------------------
    def events(self, message: str, options: Options | None = None, reply: Reply | None = None,
               query: str | None = None, room: list[dict] | None = None) -> Iterator[Event]:
        """The reply as the answering contract's events (rag.contract.Event): tokens, text withdrawn (release =
        "stream" only) and the final Reply. The model's text passes the named STAGES in order."""
        from rag.answer import check_question

        message = check_question(message) if room is None else message.strip()
        opts = options or Options()
        reply = reply if reply is not None else Reply()
        t0 = time.perf_counter()
        if room is None:
            reply.facts = self.book_answer(message, opts)
            if reply.facts is not None:
                reply.citations = list(reply.facts.citations)
                reply.timings["facts_s"] = round(time.perf_counter() - t0, 3)
        messages = self.messages(message, list(opts.history), reply, query, room)
        backend = self.backend
        stream = self.settings.release == "stream"
        knobs = (opts.max_tokens or self.settings.max_tokens,
                 self.settings.roleplay_temperature if opts.temperature is None else opts.temperature)
        sampling = self.sampling()
        turn = {"messages": messages, "knobs": knobs, "sampling": sampling, "message": message}
        stages = [(name, partial(stage, reply=reply, turn=turn)) for name, stage in self.stages()]

        def record(raw: str, text: str) -> None:
            reply.text = text

        yield from released(backend.stream(messages, *knobs, sampling=sampling), stages, record, stream,
                            reply.timings, t0, reply.changed)
        reply.timings["total_s"] = round(time.perf_counter() - t0, 3)
        yield Event("final", record=reply)

    # --- the named stages a reply passes ---------------------------------------------------------------------
    def stages(self) -> list[tuple[str, Callable[[str, Reply, dict], str]]]:
        """(name, stage) in order: reading cleans what the model wrote (labels, turns written for the user, echoed
        instructions, repeated sentences); loop cuts a repetition at its second copy; echo regenerates, once, a
        reply that restates the message (echoed again, the character says its nearest own line); address drops the
        character's own name used to call the user; facts puts the book's answer back when the reply lost it;
        character regenerates, once, a draft that breaks character."""
        if not self.settings.roleplay_repair:
            return [("reading", self._reading), ("character", self._character)]
        return [("reading", self._reading), ("loop", self._loop), ("echo", self._echo), ("address", self._address),
                ("facts", self._facts), ("character", self._character)]

    def card_text(self) -> str:
        """What the card says of the character: description, personality, scenario, identity and lore."""
        d = self.card["data"]
        lore = [e.get("content", "") for e in (d.get("character_book") or {}).get("entries", [])]
        return "\n".join([d.get("description", ""), d.get("personality", ""), d.get("scenario", ""),
                          shuwen(self.card).get("identity", ""), *lore])

    def own(self) -> tuple[str, ...]:
        """The character's names and self-reference."""
        return tuple(dict.fromkeys([*names(self.card), self._self_ref()]))

    def _reading(self, text: str, reply: Reply, turn: dict) -> str:
        turn["first"] = first = self.clean(text)
        return unechoed(first, turn["messages"][-1]["content"])

    def _loop(self, text: str, reply: Reply, turn: dict) -> str:
        return cut_loop(text)

    def _again(self, turn: dict, note: str) -> str:
        """One more reply to the same messages with `note` added to the last one, cleaned like the first."""
        messages = turn["messages"]
        again = messages[:-1] + [{"role": "user", "content": messages[-1]["content"] + "\n" + note}]
        raw = self.backend.complete(again, *turn["knobs"], sampling=turn["sampling"])
        return cut_loop(unechoed(self.clean(raw), again[-1]["content"]))

    def _echo(self, text: str, reply: Reply, turn: dict) -> str:
        message = turn["message"]
        if not is_echo(text, message, self.own()):
            return text
        second = self._again(turn, self.template["no_echo"].format(user=USER, self_ref=self._self_ref()))
        if second and not is_echo(second, message, self.own()):
            return second
        # echoed twice: the character's own words from the book nearest to the message (the ChatHaruhi method)
        return next((x for x in reply.lines if not is_echo(x, message, self.own())), text)

    def _address(self, text: str, reply: Reply, turn: dict) -> str:
        while who := calls_user_self(text, self.own()):
            text = re.sub(rf"(^|[。！？!?\n”])\s*{re.escape(who)}(?:啊|呀|哥|兄|老弟)?\s*[，,！!]\s*(?=你)", r"\1",
                          text, count=1)
        return text

    def _facts(self, text: str, reply: Reply, turn: dict) -> str:
        facts = reply.facts
        if facts is None:
            return text
        if self.refused(facts):
            # the book does not say: a reply that states something beyond the question and the card anyway is
            # replaced by not knowing, in voice (the prompt allowed what the card says)
            # (a question back that adds nothing, 我的钉钯连柄有多重？, is no answer either)
            if says_unknown(text) or (new_chars(text, turn["message"] + self.card_text(), self.own()) <= 2
                                      and not is_question(text)):
                return text
            return self.template["facts_unknown"].format(self_ref=self._self_ref())
        from rag.cite import key_overlap

        said = _CITATION.sub("", facts.answer).strip()
        key = key_overlap(said, facts.standalone, said)  # what the answer adds to the question
        if not key or key in text:
            return text
        # the voiced reply lost the book's answer: say the answer itself, in the first person
        for n in sorted(names(self.card), key=len, reverse=True):
            said = said.replace(n, self._self_ref())
        said = cut_loop(said)
        # … unless what is left of it still asks the question (书问's answer looped on it); a restatement with the
        # slot filled (你脚上那双鞋是哪位龙王送的？ → 老孙脚上那双鞋是老龙王送的) is the answer
        return text if is_echo(said, turn["message"], self.own()) and is_question(said) else said

    def _character(self, text: str, reply: Reply, turn: dict) -> str:
        if why := breaks_character(text, self.card):
            reply.regenerated = why
            second = self._again(turn, self.template["stay"].format(char=self.name, self_ref=self._self_ref()))
            if second and not breaks_character(second, self.card):
                text = second
        # never nothing: an echo of the question beats an empty bubble with no 🔊
        return text or turn["first"] or "……"

    def sampling(self) -> dict:
        """Penalties against loops, and stops where the model starts writing the user's line."""
        s = self.settings
        stop = [f"\n{USER}：", f"\n{USER}:", "\n用户：", f"{USER}："]
        return {"stop": stop, "presence_penalty": s.roleplay_presence_penalty,
                "frequency_penalty": s.roleplay_frequency_penalty, "repeat_penalty": s.roleplay_repeat_penalty}

    # --- facts from the book pipeline -----------------------------------------------------------------------
    def book_question(self, message: str) -> str:
        """The message as a question about the book: a leading vocative dropped and the character named by the
        card's name for 你 (八戒，你的钉钯有多重？ → 猪八戒的钉钯有多重？; 师父，收留你的猎户叫什么？ → 收留唐三藏的猎户叫什么？),
        the way a reader would ask 书问. The book's alias groups already let retrieval find 八戒 and 行者; what
        the wording changes is the reading: on 20 西游记 character questions at temperature 0, the card's name was
        never less often right than the user's word for him and stated two fewer wrong facts (二两 for the 钉钯)."""
        msg = last_line(message)
        mine = "|".join(map(re.escape, names(self.card)))
        called = (re.match(rf"(?:{mine})[，,！!]\s*", msg) if mine else None) or _ADDRESS.match(msg)
        q = msg[called.end():] if called else msg
        return q.replace("你们", f"{self.name}他们").replace("你", self.name)

    def refused(self, facts: Any) -> bool:
        """The book's answer says the book does not tell (书问 sometimes restates the question before it:
        …钉钯连柄有多重？——书中没有明确提到。)."""
        return self.asker.prompter.refusal.rstrip("。") in facts.answer

    def book_answer(self, message: str, opts: Options) -> Any:
        """书问's answer to a question about the book (same evidence ranking and support check), or None when the
        message asks nothing of the book: an opinion whose passages do not answer it, or no book at all."""
        asked = last_line(message)
        if not (self.settings.roleplay_facts and self.grounded and self.asker is not None and is_question(asked)):
            return None
        # 书问's own answer (its temperature, not the voice's): the one a reader asking 书问 would get
        res = self.asker.ask(self.book_question(message), options=Options(read_to=opts.read_to))
        if self.refused(res) and not _FACTUAL.search(asked):
            return None  # 你怎么看天庭？ is the character's to answer, not the book's
        return res

    def stream(self, message: str, history: list[tuple[str, str]] | None = None, reply: Reply | None = None,
               query: str | None = None, room: list[dict] | None = None) -> Iterator[str]:
        """The text the reader is shown, piece by piece; `reply` is filled in when the stream ends."""
        yield from texts(self.events(message, Options.of(history), reply, query, room))

    def _self_ref(self) -> str:
        return shuwen(self.card).get("self_ref") or "我"

    def clean(self, raw: str) -> str:
        """The reply as the character's own words: no speaker label (孙悟空： / 你: “…”), no turn written for the
        user, no echoed instruction, no sentence said twice (a 1.5B model loops in blocks longer than repair's)."""
        text = repair(raw, self.settings.answer_t2s)
        text = re.split(r"[（(]?轮到\S{0,8}(?:说话|了)", text)[0]  # the room template's instruction, echoed
        text = re.split(rf"\n\s*(?:{re.escape(USER)}|用户|User)\s*[：:]", text)[0]
        own = set(names(self.card)) | {USER, "我", self._self_ref()}
        labels = "|".join(re.escape(n) for n in sorted(own, key=len, reverse=True) if n)
        text = re.sub(rf"\n\s*[【\[]?(?:{labels})[】\]]?\s*[：:]\s*", "\n", text)  # the character labelling its lines
        text = re.sub(rf"^\s*(?:[【\[]?(?:{labels})[】\]]?\s*[：:]|[\u4e00-\u9fff]{{1,6}}(?<![说问答笑喊叫])\s*[：:]\s*(?=[“\"「]))\s*", "", text)
        if re.fullmatch(r"[“\"「][^“”\"「」]+[”\"」]", text.strip()):
            text = text.strip()[1:-1]
        said, out = set(), []
        for sent in re.findall(r"[^。！？!?\n]+[。！？!?…”」]*\n*|\n+", text):
            key = sent.strip()
            if key and key in said:
                break
            said.add(key)
            out.append(sent)
        return "".join(out).strip()

    def say(self, message: str, history: list[tuple[str, str]] | None = None, query: str | None = None,
            room: list[dict] | None = None) -> Reply:
        """The whole reply at once."""
        reply = Reply()
        for _ in self.stream(message, history, reply, query, room):
            pass
        return reply
