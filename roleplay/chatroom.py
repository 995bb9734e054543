"""Several characters take turns on a topic (the 西游 chatroom): each speaks from its own card, grounded in the
book, seeing the others only as names and their latest lines; the reader can interject at any time.

Turn orders: `list` (round robin), `random` (never the same speaker twice running), `natural` (whoever the last
message names or addresses, else whoever has spoken least). Transcripts are saved as JSONL and Markdown.

A room with a book first plans a scene: `room_beats` beats of the topic, sentences of the book's passages about
it in the book's order. Each turn is given its beat, the last two lines and the instruction to answer or move the scene
on; a turn is its speaker's first paragraph, at most three sentences; a turn that only greets or agrees
(roleplay.quality.is_empty_turn) is regenerated once.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.errors import BadInputError
from rag.settings import Settings
from roleplay.card import names, normalize
from roleplay.chat import USER, Character, Reply, unechoed
from roleplay.quality import is_empty_turn, is_loop

ORDERS = ("natural", "list", "random")
SEEN_TURNS = 8  # the transcript a speaker sees: enough to answer the last lines, short enough for a 1.5B model
MAX_MEMBERS = 8


@dataclass
class Turn:
    """One line of the room: a character's reply or the reader's interjection."""

    speaker: str
    text: str
    by_user: bool = False
    chapters: list[int] = field(default_factory=list)  # chapters of the passages the reply stood on
    regenerated: str = ""
    seconds: float = 0.0


class Chatroom:
    """N characters, a topic, a turn order and the transcript so far."""

    def __init__(self, settings: Settings, cards: list[dict], topic: str, order: str = "natural",
                 seed: int | None = None, backends: dict | None = None, make=None):
        if order not in ORDERS:
            raise BadInputError(f"turn order must be one of {', '.join(ORDERS)}, not {order!r}")
        cards = [normalize(c) for c in cards]
        who = [c["data"]["name"] for c in cards]
        if not 2 <= len(cards) <= MAX_MEMBERS:
            raise BadInputError(f"a chatroom needs 2 to {MAX_MEMBERS} characters, not {len(cards)}")
        if len(set(who)) != len(who):
            raise BadInputError(f"each character once: {', '.join(who)}")
        if not topic.strip():
            raise BadInputError("the chatroom needs a topic")
        self.topic, self.order = topic.strip(), order
        # `make(card)` lets a caller supply its own Characters (the page shares its cached model and retriever)
        make = make or (lambda c: Character(settings, c, backend=(backends or {}).get(c["data"]["name"])))
        self.members = [make(c) for c in cards]
        self.turns: list[Turn] = []
        self.beats: list[str] | None = None  # planned before the first turn (plan())
        self.planned_turns = 0  # how many turns run() was asked for: the beats are spread over them
        self._random = random.Random(seed)

    # --- whose turn ----------------------------------------------------------------------------------
    def next_speaker(self) -> Character:
        """Who speaks next under the room's turn order."""
        said = [t for t in self.turns if not t.by_user]
        last = said[-1].speaker if said else None
        others = [m for m in self.members if m.name != last]
        if self.order == "list":
            if last is None:
                return self.members[0]
            i = next(i for i, m in enumerate(self.members) if m.name == last)
            return self.members[(i + 1) % len(self.members)]
        if self.order == "random":
            return self._random.choice(others)
        if self.turns and (named := self._named(self.turns[-1].text, others)):
            return named
        counts = {m.name: sum(t.speaker == m.name for t in said) for m in others}
        return min(others, key=lambda m: counts[m.name])  # stable: list order breaks ties

    @staticmethod
    def _named(text: str, candidates: list[Character]) -> Character | None:
        """The candidate named (or addressed) first in `text`."""
        best = None
        for m in candidates:
            hits = [text.find(n) for n in names(m.card) if n and n in text]
            if hits and (best is None or min(hits) < best[0]):
                best = (min(hits), m)
        return best[1] if best else None

    # --- speaking ------------------------------------------------------------------------------------
    def interject(self, text: str) -> Turn:
        """The reader says something; the next speaker answers it."""
        text = (text or "").strip()
        if not text:
            raise BadInputError("say something to interject")
        turn = Turn(USER, text, by_user=True)
        self.turns.append(turn)
        return turn

    # --- the scene -----------------------------------------------------------------------------------
    def plan(self) -> list[str]:
        """The scene's beats: up to `room_beats` sentences of the book about the topic, one from each of the
        best-matching passages, in the book's order (none without a book, or with room_beats = 0). Taken from
        the book, not written by the model: the 1.5B model's plans were generic (火焰山的地理距离) and led the
        room away from the book."""
        if self.beats is not None:
            return self.beats
        self.beats = []
        lead = next((m for m in self.members if m.asker is not None), None)
        n = lead.settings.room_beats if lead is not None else 0
        if lead is None or n <= 0:
            return self.beats
        found = lead.asker.retriever.search(self.topic, max(n * 2, lead.settings.k), max_seq=lead.asker.max_seq)
        best = lead.asker.compact(self.topic, found[: n * 2])  # each passage's best window for the topic
        ordered = sorted(best[:n], key=lambda p: (p.chapter, p.start))
        self.beats = [b for p in ordered if (b := beat_of(p.text))] or [self.topic]
        return self.beats
    def beat_for(self, index: int) -> str:
        """The beat of the `index`-th character turn: the beats spread evenly over the planned turns."""
        beats = self.plan()
        if not beats:
            return ""
        per = max(1, -(-max(self.planned_turns, len(beats)) // len(beats)))
        return beats[min(index // per, len(beats) - 1)]

    def message_for(self, who: Character) -> tuple[str, str, list[dict]]:
        """(cue, retrieval query, turns so far as chat messages) for `who`: only its own card is in its prompt;
        the others are names and their latest lines, as user turns ("八戒：…"), its own lines as its turns. With a
        scene plan, the cue names the turn's beat and the speaker sees the last two lines."""
        t = who.template
        beat = self.beat_for(sum(not x.by_user for x in self.turns))
        seen = self.turns[-(2 if beat else SEEN_TURNS):]
        turns = [{"role": "assistant", "content": x.text} if x.speaker == who.name and not x.by_user else
                 {"role": "user", "content": t["room_line"].format(speaker=x.speaker, text=x.text)} for x in seen]
        others = "、".join([m.name for m in self.members if m is not who] + [USER])
        cue = t["room_beat" if beat else "room"].format(topic=self.topic, others=others, char=who.name,
                                                         self_ref=who._self_ref(), beat=beat)
        if not self.turns:
            cue = t["room_start"].format(char=who.name) + cue
        query = f"{who.name} {beat or self.topic} {seen[-1].text if seen else ''}"
        return cue, query[:200], turns

    def step(self, who: Character | None = None) -> Iterator[tuple[str, str]]:
        """(speaker, piece) as the next speaker's reply is generated; the turn is then in `self.turns`."""
        who = who or self.next_speaker()
        cue, query, turns = self.message_for(who)
        reply, t0 = Reply(), time.perf_counter()
        others = [n for m in self.members if m is not who for n in names(m.card)] + [USER]
        for _ in who.stream(cue, None, reply, query, room=turns):
            pass
        # a character whose reply was all instruction said back keeps its uncut draft rather than nothing (right for a
        # reader's bubble); a room has a better fallback (the speaker's own line), so it cuts the cue's words itself
        text = unechoed(one_turn(_own_words(reply.text, others)), cue)
        said = [x.text for x in self.turns]
        beat = self.beat_for(sum(not x.by_user for x in self.turns))
        if self.beats and (self.turns and is_empty_turn(text, said, topic=self.topic) or is_empty_turn(text, [beat])):
            # a greeting or a yes moves nothing: once more, told to say something new
            again = Reply()
            more = who.template["room_more"].format(beat=beat or self.topic)
            for _ in who.stream(cue + more, None, again, query, room=turns):
                pass
            # the cue's own words said back (一到两句，不要打招呼…) are the instruction, not the character (as above)
            second = unechoed(one_turn(_own_words(again.text, others)), cue + more)
            if not is_empty_turn(second, said, topic=self.topic) and not is_empty_turn(second, [beat]):
                text, reply, reply.regenerated = second, again, "empty turn"
            elif line := self._own_line(who, query, said):
                # the model has nothing new to say: the character's own words from the book, nearest to the scene
                text, reply.regenerated = line, "own line"
        self.turns.append(Turn(who.name, text, chapters=sorted({p.chapter for p in reply.passages}),
                               regenerated=reply.regenerated, seconds=round(time.perf_counter() - t0, 2)))
        yield who.name, text  # once the turn's checks have passed: nothing shown is taken back

    def run(self, turns: int) -> Iterator[tuple[str, str]]:
        """Let the room talk for `turns` turns."""
        self.planned_turns = max(self.planned_turns, sum(not t.by_user for t in self.turns) + turns)
        for _ in range(turns):
            yield from self.step()

    @staticmethod
    def _own_line(who: Character, query: str, said: list[str]) -> str:
        """The character's own line from the book nearest to `query` that the room has not heard and that is not
        itself an empty turn or a loop (the book's 我不去了！我不去了！… reads as one), or ""."""
        for line in who.nearest_lines(query, 8):
            if line not in said and not is_empty_turn(line, said) and not is_loop(line):
                return line
        return ""

    # --- transcripts ---------------------------------------------------------------------------------
    def to_jsonl(self) -> str:
        head = {"topic": self.topic, "order": self.order, "characters": [m.name for m in self.members],
                "novels": sorted({m.novel for m in self.members if m.novel}), "beats": self.beats or []}
        return "\n".join(json.dumps(x, ensure_ascii=False) for x in [head] + [asdict(t) for t in self.turns]) + "\n"

    def to_markdown(self) -> str:
        novels = "、".join(f"《{n}》" for n in sorted({m.novel for m in self.members if m.novel})) or "书外"
        out = [f"# 聊天室：{self.topic}", "",
               f"{novels} · {'、'.join(m.name for m in self.members)} · 轮流方式：{self.order}", ""]
        if self.beats:
            out += ["情节：" + " → ".join(self.beats), ""]
        for t in self.turns:
            where = f" 〔第{'、'.join(map(str, t.chapters))}回〕" if t.chapters else ""
            out.append(f"**{t.speaker}**：{t.text}{where}" if not t.by_user else f"> **{USER}**：{t.text}")
            out.append("")
        return "\n".join(out)

    def save(self, stem: Path) -> tuple[Path, Path]:
        """Write `<stem>.jsonl` and `<stem>.md`; returns both paths."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        paths = stem.with_suffix(".jsonl"), stem.with_suffix(".md")
        for path, text in zip(paths, (self.to_jsonl(), self.to_markdown())):
            tmp = path.with_name(path.name + ".part")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        return paths


def beat_of(text: str, most: int = 40) -> str:
    """A beat from a window of the book: its first sentence of at least six Chinese characters, quotes and the
    speech tag dropped, at most `most` characters."""
    for sent in re.findall(r"[^。！？!?\n]+", text.replace("……", "。")):
        sent = re.sub(r"^[\u4e00-\u9fff]{1,6}?(?:笑|问|答|叫|喝|骂)?道[：:]", "", sent.strip())  # 行者道： is not the beat
        sent = re.sub(r"[“”「」『』\"]", "", sent).strip(" ，、：:")
        if len(re.findall(r"[\u4e00-\u9fff]", sent)) >= 6:
            return sent[:most]
    return ""


def one_turn(text: str, most: int = 3) -> str:
    """A chatroom turn as a speaker says it: the first paragraph, at most `most` sentences, without anything in
    brackets (the room's instructions echoed back, （当下：…）, or stage directions) or 在场的还有…."""
    text = re.sub(r"[（(][^）)]*(?:[）)]|$)", "", text)  # the room's instructions echoed, or stage directions
    text = re.sub(r"(?:^|(?<=[。！？!?]))\s*(?:在场的还有|眼下的情节)[^。！？!?]*[。！？!?]?", "", text)
    first = next((p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()), "")
    sents = re.findall(r"[^。！？!?…]+[。！？!?…”」]*", first)
    return "".join(sents[:most]).strip()


def _own_words(text: str, others: list[str]) -> str:
    """The reply up to where the model starts writing someone else's line (八戒：… / 沙僧道：…). A reply that
    opens with another speaker's label is the model mislabelling its own line: the label goes, the line stays."""
    alts = "|".join(re.escape(n) for n in sorted(set(others), key=len, reverse=True) if n)
    if not alts:
        return text.strip()
    label = rf"\s*(?:{alts})\s*(?:笑道|问道|答道|说道|道|说)?\s*[：:]"
    boxed = rf"\s*[【\[](?:{alts})[】\]]\s*[：:]?"  # 【猪八戒】： is a label wherever it stands
    text = re.sub(rf"^(?:{label}|{boxed})\s*", "", text.strip())
    return re.split(rf"(?<=[。！？!?…”\n]){label}|{boxed}", text)[0].strip()
