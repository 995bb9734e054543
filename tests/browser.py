"""Drive the real page in Debian's chromium with Playwright (used by test_browser.py and scripts/screenshot.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def running_app(port: int, env: dict[str, str], log: Path):
    """`python start.py --no-index` on 127.0.0.1:port until the block ends."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "start.py", "--no-index", "--port", str(port)], cwd=ROOT,
                                env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(240):
                try:
                    urllib.request.urlopen(url + "/_stcore/health", timeout=2).read()
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError(f"the app exited with {proc.returncode}; see {log}") from None
                    time.sleep(0.5)
            else:
                raise RuntimeError(f"the app did not start; see {log}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class PageResult:
    answer: str
    sources: int
    audio_type: str
    audio_bytes: bytes
    audio_duration: float


def ask_and_listen(url: str, question: str, screenshot: Path, timeout_s: float = 600,
                   viewport: tuple[int, int] = (1280, 1000)) -> PageResult:
    """Ask in the chat input, wait for the answer, press 🔊, fetch the audio and take a screenshot."""
    from playwright.sync_api import sync_playwright

    ms = int(timeout_s * 1000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN")
            page.goto(url, timeout=ms)
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=ms)
            send(page, question, ms)
            wait_for_reply(page, ms)
            speak = page.get_by_role("button", name="🔊 朗读")
            messages = page.get_by_test_id("stChatMessage")
            answer = messages.nth(1).get_by_test_id("stMarkdownContainer").first.inner_text()
            found = re.search(r"出处（(\d+) 段", page.get_by_test_id("stExpander").first.inner_text())
            page.get_by_test_id("stExpander").first.locator("summary").click()
            speak.first.click()
            audio = page.locator("audio[src*='/media/']")  # the page has other, empty <audio> elements
            audio.first.wait_for(state="attached", timeout=ms)
            src = audio.first.get_attribute("src") or ""
            resp = page.request.get(src if src.startswith("http") else url + src)
            duration = audio.first.evaluate("""(a) => new Promise((resolve) => {
                if (a.readyState >= 1) return resolve(a.duration);
                a.addEventListener('loadedmetadata', () => resolve(a.duration));
                a.addEventListener('error', () => resolve(-1));
                a.load();
            })""")
            page.wait_for_timeout(500)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            return PageResult(answer, int(found.group(1)) if found else 0, resp.headers.get("content-type", ""), resp.body(),
                              float(duration))
        finally:
            browser.close()


def ask_together(url: str, questions: list[str], timeout_s: float = 900) -> list[str]:
    """Several readers ask at the same moment, each in their own browser session; their answers, in order."""
    from playwright.sync_api import sync_playwright

    ms = int(timeout_s * 1000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            pages = [browser.new_context().new_page() for _ in questions]
            for page in pages:
                page.goto(url, timeout=ms)
                page.get_by_test_id("stChatInputTextArea").wait_for(timeout=ms)
            for page, q in zip(pages, questions):
                page.get_by_test_id("stChatInputTextArea").fill(q)
            for page in pages:  # press Enter in each as fast as possible
                page.get_by_test_id("stChatInputTextArea").press("Enter")
            answers = []
            for page in pages:
                page.get_by_role("button", name="🔊 朗读").first.wait_for(timeout=ms)
                answers.append(page.get_by_test_id("stChatMessage").nth(1).inner_text())
            return answers
        finally:
            browser.close()


@dataclass
class RoleplayResult:
    reply: str
    sources_label: str
    room_turns: list[str]
    script_ran: bool
    hostile_text_shown: bool
    dialogs: list[str]


def roleplay_in_browser(url: str, character: str, message: str, topic: str, turns: int, artifacts: Path,
                        timeout_s: float = 900) -> RoleplayResult:
    """角色: pick a card, say something, wait for the reply; 聊天室: the default cast talks `turns` turns."""
    from playwright.sync_api import sync_playwright

    ms = int(timeout_s * 1000)
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
        try:
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, timeout=ms)
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("角色", exact=True).click()
            page.get_by_role("button", name=character).first.click(timeout=ms)
            page.get_by_role("button", name=f"👤 {character}").wait_for(timeout=ms)
            send(page, message, ms)
            wait_for_reply(page, ms)
            reply = page.get_by_test_id("stChatMessage").last.get_by_test_id("stMarkdownContainer").first.inner_text()
            sources = page.get_by_test_id("stExpander").last.locator("summary").inner_text()
            hostile = page.get_by_text("<script>window.__pwned=1</script>").count() > 0
            ran = bool(page.evaluate("() => window.__pwned === 1"))
            page.screenshot(path=str(artifacts / "character.png"), full_page=True)
            sidebar.get_by_text("聊天室", exact=True).click()
            topic_box = sidebar.get_by_label("话题")
            topic_box.wait_for(timeout=ms)
            topic_box.fill(topic)
            topic_box.press("Enter")
            number = sidebar.get_by_label("每次说几轮")
            number.fill(str(turns))
            number.press("Enter")
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="▶️ 开始").click()
            page.get_by_role("button", name=f"▶️ 再说 {turns} 轮").wait_for(timeout=ms)
            said = [m.get_by_test_id("stMarkdownContainer").first.inner_text()
                    for m in page.get_by_test_id("stChatMessage").all()]
            page.screenshot(path=str(artifacts / "chatroom.png"), full_page=True)
            return RoleplayResult(reply, sources, said, ran, hostile, dialogs)
        except Exception as e:
            raise AssertionError(f"{e}\n{diagnose(page, artifacts)}") from e
        finally:
            browser.close()


def idle(page, ms: int) -> None:
    """Wait until Streamlit has finished its run (its status widget says Running… while a script runs)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=ms)


def send(page, text: str, ms: int) -> None:
    """Type into the chat box and press Enter, again if a rerun replaced the box before the page took the text."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        idle(page, ms)
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(text)
        box.press("Enter")
        try:
            page.get_by_test_id("stChatMessage").filter(has_text=text).first.wait_for(timeout=60_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the page never showed the message {text!r} after three tries")


def wait_for_reply(page, ms: int) -> None:
    """Wait for the 🔊 under a reply, or fail at once with the error the page shows instead."""
    done = page.get_by_role("button", name="🔊 朗读").first
    failed = page.get_by_test_id("stChatMessage").last.locator("[data-testid='stAlert'], [data-testid='stException']")
    done.or_(failed.first).wait_for(timeout=ms)
    if not done.is_visible():
        raise AssertionError(f"the reply failed: {failed.first.inner_text()}")


def diagnose(page, artifacts: Path) -> str:
    """What the page showed when a step failed: a screenshot in artifacts, the page's text, the app's log tail."""
    try:
        page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        text = page.locator("body").inner_text(timeout=5000)
    except Exception as e:  # the page itself may be gone; say so rather than hide the first error
        return f"(no page to show: {e})"
    log = artifacts / "app.log"
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else ""
    return "the page said:\n" + text[-3000:] + ("\nthe app's log ends:\n" + tail if tail else "")
