"""A tiny headless-Chromium runner for pages deckgen makes (the MathJax check, the preview).

In:  the URL of a page (usually a `file://` URL of a page we wrote), how long to let it run.
Out: `PageRun`: the DOM after the page's scripts ran, and what the page wrote to its console;
     or `ChromiumNotFound` when no browser is installed. `screenshot()` saves a PNG.
     `offline_session()`: one Chromium driven by playwright for many pages (the layout check,
     screenshots of every card), with every request that leaves the disk refused.

Chromium runs once per page with `--dump-dom` under a virtual-time budget: page timers and
promises (MathJax typesetting) run to completion as fast as the CPU allows, then the DOM is
printed. A page hands structured results back by writing JSON into an element; `result_json()`
reads it (see `RESULT_ID`). Every run gets an empty profile, so runs never share state.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "DECKGEN_CHROMIUM"
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--disable-quic", "--mute-audio", "--enable-logging=stderr", "--v=0",
)
RESULT_ID = "deckgen-result"  # <script type="application/json" id="deckgen-result">
_CONSOLE_RE = re.compile(r":INFO:CONSOLE[^\]]*\] \"(.*)\", source: (.*)$")


class ChromiumNotFound(RuntimeError):
    """No Chromium binary: install Debian's `chromium` or point $DECKGEN_CHROMIUM at one."""

    def __init__(self) -> None:
        super().__init__(f"chromium not found: install it (apt-get install chromium) or set ${ENV_VAR} to its path")


class PlaywrightMissing(RuntimeError):
    """The layout check and card screenshots drive Chromium with playwright, which is not installed."""

    def __init__(self) -> None:
        super().__init__("playwright is not installed: pip install playwright (deckgen only drives the system's Chromium with it; it downloads no browser)")


class PageFailed(RuntimeError):
    """Chromium ran but did not print the page (crashed, or ran past its time limit)."""


@dataclass(frozen=True)
class PageRun:
    dom: str  # the serialised DOM after the page's scripts ran
    console: tuple[str, ...]  # console messages and uncaught errors, "message (source)"


def find_chromium() -> str | None:
    """$DECKGEN_CHROMIUM if set, else the first Chromium on this machine, else None."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return configured if shutil.which(configured) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def file_url(path: Path) -> str:
    return Path(path).resolve().as_uri()


def run_page(url: str, *, budget_ms: int = 20000, timeout: float = 120.0, window: tuple[int, int] = (412, 915), args: tuple[str, ...] = ()) -> PageRun:
    """Load `url`, let its scripts run for up to `budget_ms` of virtual time, return its DOM."""
    out, err = _run([f"--virtual-time-budget={budget_ms}", f"--window-size={window[0]},{window[1]}", *args, "--dump-dom", url], timeout)
    if "<html" not in out:
        raise PageFailed(f"chromium printed no page for {url}: {_last_line(err)}")
    return PageRun(out, _console(err))


def screenshot(url: str, png: Path, *, window: tuple[int, int] = (412, 915), budget_ms: int = 5000, timeout: float = 120.0) -> Path:
    """Save what `url` looks like in a `window`-sized viewport to `png`."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _, err = _run([f"--virtual-time-budget={budget_ms}", f"--window-size={window[0]},{window[1]}", f"--screenshot={png}", url], timeout)
    if not png.is_file():
        raise PageFailed(f"chromium wrote no screenshot of {url}: {_last_line(err)}")
    return png


def result_json(dom: str, element_id: str = RESULT_ID):
    """The JSON a page stored in `<script type="application/json" id=element_id>`, or None.

    The page must escape `<` (JSON.stringify(x).replace(/</g, "\\u003c")) so that the script
    element's text survives serialisation unchanged.
    """
    match = re.search(rf'<script[^>]*id="{re.escape(element_id)}"[^>]*>(.*?)</script>', dom, re.S)
    if not match or not match.group(1).strip():
        return None
    return json.loads(match.group(1))


def _run(args: list[str], timeout: float) -> tuple[str, str]:
    binary = find_chromium()
    if binary is None:
        raise ChromiumNotFound()
    with tempfile.TemporaryDirectory(prefix="deckgen-chromium-") as profile:
        # Its own session, so that a hung run can be stopped with all its helper processes.
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise PageFailed(f"chromium ran longer than {timeout:g} s and was stopped") from None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace")


def _console(stderr: str) -> tuple[str, ...]:
    found = []
    for line in stderr.splitlines():
        match = _CONSOLE_RE.search(line)
        if match:
            found.append(f"{match.group(1)} ({match.group(2)})")
    return tuple(found)


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "dbus" not in line and line.strip()]
    return lines[-1] if lines else "no message"


# ---- one browser, many pages (playwright) -----------------------------------------------------

# Every request goes to a proxy that is not there (port 9, discard) and is refused before it
# leaves the machine; requests for anything but files are also stopped in the page (`route`).
OFFLINE_FLAGS = ("--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
# Matched inside the browser's driver, so that the many file requests of a page (MathJax, its
# fonts, the figures) do not each make a round trip through Python.
_NOT_A_FILE = re.compile(r"^(?!(?:file|data|blob):)")
_PLAYWRIGHT_SKIPS = ("--headless", "--enable-logging=stderr", "--v=0")  # playwright sets its own


def playwright_flags() -> list[str]:
    """`FLAGS` as arguments of playwright's `chromium.launch()`: without those it sets itself."""
    return [flag for flag in FLAGS if flag not in _PLAYWRIGHT_SKIPS]


class OfflineSession:
    """Pages of one headless Chromium that can read files and nothing else.

    `blocked` collects every URL a page asked for and did not get (cards must work offline).
    """

    def __init__(self, browser) -> None:
        self._browser = browser
        self.blocked: list[str] = []

    def open(self, url: str, *, width: int, height: int, scale: float = 1.0):
        """A playwright `Page` of `width` × `height` CSS pixels showing `url`, loaded."""
        context = self._browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
        context.route(_NOT_A_FILE, self._refuse)
        page = context.new_page()
        page.goto(url, wait_until="load")
        return page

    def _refuse(self, route) -> None:
        self.blocked.append(route.request.url)
        route.abort("blockedbyclient")


@contextmanager
def offline_session() -> Iterator[OfflineSession]:
    """Start Chromium (the system's: playwright never downloads one here) for the block's pages."""
    binary = find_chromium()
    if binary is None:
        raise ChromiumNotFound()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PlaywrightMissing() from None
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=binary, args=[*playwright_flags(), *OFFLINE_FLAGS])
        try:
            yield OfflineSession(browser)
        finally:
            browser.close()
