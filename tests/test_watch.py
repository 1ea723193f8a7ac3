"""`deckgen watch` as a real child process: rebuilds on edits, reports errors and keeps running."""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO

TOPIC = """---
deck: 监视::基础
id: basics
---

## 什么是感受野？ {#rf}

- 输出上一个点能看到的输入区域。

## 1×1 卷积有什么作用？ {#one-by-one}

- 改变通道数。
"""
WAIT = 120  # seconds: a bound for each step, never a measured duration


class Child:
    """`deckgen watch` in its own process, with its stdout and stderr read line by line."""

    def __init__(self, root: Path, *args: str):
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deckgen.cli", "--root", str(root), "watch", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr)):
            threading.Thread(target=self._read, args=(name, stream), daemon=True).start()

    def _read(self, name: str, stream) -> None:
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))

    def expect(self, pattern: str, stream: str = "out") -> re.Match:
        """Wait (at most WAIT seconds) for a line matching `pattern`; return the match."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                name, line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.proc.poll() is None, f"watcher exited with {self.proc.returncode}: {self.seen[-10:]}"
                continue
            self.seen.append((name, line))
            match = re.search(pattern, line)
            if name == stream and match:
                return match
        raise AssertionError(f"no line matching {pattern!r} on std{stream} within {WAIT} s; saw {self.seen[-15:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


@pytest.fixture
def watcher():
    children: list[Child] = []
    yield lambda root, *args: children.append(Child(root, *args)) or children[-1]
    for child in children:
        child.stop()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_watch_rebuilds_on_edit_and_survives_errors(project, watcher):
    root = project({"content/basics.md": TOPIC})
    topic = root / "content/basics.md"
    child = watcher(root)
    child.expect(r"^监视::基础: 2 added")
    child.expect(r"^watching content/ for changes")
    package = root / "dist/basics.apkg"
    first = package.read_bytes()

    edit(topic, "改变通道数。", "改变通道数，跨通道融合信息。")
    child.expect(r"^changed: content/basics.md$")
    child.expect(r"^  ~ basics/one-by-one$")
    child.expect(r"notes in 2 packages \(2 written\)")
    assert package.read_bytes() != first

    edit(topic, "## 什么是感受野？ {#rf}", "## 什么是感受野？ {#rf}\n\n公式 $k_{eff$ 没有闭合")
    child.expect(r"^error: content/basics.md:\d+: ", stream="err")
    child.expect(r"dist/ keeps the last good build; still watching", stream="err")
    assert child.proc.poll() is None

    edit(topic, "公式 $k_{eff$ 没有闭合", "公式 $k_{eff}$ 已闭合")
    child.expect(r"^  ~ basics/rf$")
    assert child.stop() == 0


def test_watch_serve_reloads_the_page(project, watcher, browser):
    root = project({"content/basics.md": TOPIC})
    child = watcher(root, "--serve", "--port", "0")
    url = child.expect(r"serving the preview at (http://127\.0\.0\.1:\d+/)").group(1)
    child.expect(r"^preview: 2 cards in 1 deck,")
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url + "deck-basics.html")
    page.wait_for_function("document.documentElement.dataset.mathjax")
    page.evaluate("window.deckgenMarker = 1")  # gone after a reload

    edit(root / "content/basics.md", "改变通道数。", "改变通道数，热更新成功。")
    page.wait_for_function("!window.deckgenMarker && document.body !== null && document.body.innerText.includes('热更新成功')", timeout=WAIT * 1000)

    edit(root / "content/basics.md", "## 什么是感受野？ {#rf}", "## 什么是感受野？ {#rf}\n\n公式 $k_{eff$ 没有闭合")
    page.wait_for_selector(".pv-status:not([hidden])", timeout=WAIT * 1000)
    assert "content/basics.md:" in page.inner_text(".pv-status")
    assert "热更新成功" in page.inner_text("body")  # the last good build stays on screen
    page.close()
    assert child.stop() == 0
