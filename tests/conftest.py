"""Shared fixtures and helpers, one definition each: small projects in tmp_path, running the real
`deckgen` command, the flagship built once, Chromium and one playwright browser, a PNG, a synthetic
topic of many notes, and what a package holds."""
from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NETGUARD = Path(__file__).resolve().parent / "netguard"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "src"))  # test this checkout, whatever `pip install -e` last pointed at
sys.path.insert(0, str(NETGUARD))

import guard_loopback  # noqa: E402

# Loopback only, in this process and (through PYTHONPATH and netguard/sitecustomize.py) in every
# Python process a test starts: a connection elsewhere raises before a packet is sent.
guard_loopback.install()
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(NETGUARD), str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)


# ---- two cores: `pytest -n` (pytest-xdist) ---------------------------------------------------------


def share_of_work(nodeid: str) -> str:
    """Which worker's share a test is in under `pytest -n`: the tests of the flagship (those of
    test_content.py, and every test with "flagship" in its name) are one share, so that one worker
    builds the flagship once (the session fixture) and no two processes use it at a time; every
    other test goes with the rest of its module, whose module fixtures are then made once."""
    module, _, name = nodeid.partition("::")
    return "flagship" if module.endswith("/test_content.py") or "flagship" in name else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":  # `-n` alone; an explicit --dist is obeyed
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndTheFlagship(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return share_of_work(nodeid)

    config.option.loadscopereorder = False  # in collection order: the long flagship share starts early
    return ModulesAndTheFlagship(config, log)


def pytest_collection_modifyitems(config, items) -> None:
    astray = [item.nodeid for item in items if "flagship" in item.fixturenames and share_of_work(item.nodeid) != "flagship"]
    if astray:
        raise pytest.UsageError(f"{', '.join(astray)}: uses the flagship fixture, so its name must say 'flagship' (or it must be in test_content.py): `pytest -n` then runs it in the one worker that builds the flagship")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def write_project(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (path -> text, dedented; or bytes as they are) under `root`."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def run_deckgen(root: Path, *args: str, timeout: float = 300) -> Run:
    """Run the installed command in a child process, exactly as a user would."""
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "deckgen", "--root", str(root), *args],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def flagship(tmp_path_factory) -> Path:
    """The repository's own content and figures, built once per session in a scratch copy.

    Tests never build the checkout itself: its dist/, cache and lock file stay untouched. Nor do
    they build the flagship from scratch again: a test that needs it changed copies this folder,
    .deckgen-cache included (figures and sympy results stay warm), and changes the copy.
    """
    import shutil

    from deckgen import BuildConfig, build

    if not (REPO / "content").is_dir():
        pytest.skip("no flagship content in this checkout")
    root = tmp_path_factory.mktemp("flagship")
    shutil.copytree(REPO / "content", root / "content")
    shutil.copytree(REPO / "figures", root / "figures")
    if (REPO / "deckgen.lock").exists():
        shutil.copy(REPO / "deckgen.lock", root / "deckgen.lock")
    build(BuildConfig(root=root))
    return root


@pytest.fixture
def project(tmp_path: Path):
    """A factory: project({"content/a.md": "..."}) -> root folder."""
    return lambda files: write_project(tmp_path / "proj", files)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary for browser tests: they run in CI (CI=true) without exception; elsewhere
    they skip with the reason when it is missing."""
    from deckgen.runtime import browser

    found = browser.find_chromium()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and CI must run the browser tests (see .ci/run)")
        pytest.skip("Chromium not found: install it (Debian/Ubuntu: sudo apt-get install chromium fonts-noto-cjk), or set $DECKGEN_CHROMIUM to a Chromium binary")
    require_anki_mathjax()
    return found


def require_anki_mathjax() -> None:
    """Anki's MathJax, fetched before the tests: they may reach only loopback, so a fetch from
    here fails (the README's test command runs `python -m deckgen.math.mathjax` first)."""
    from deckgen.math import mathjax

    try:
        mathjax.mathjax_dir()
    except mathjax.MathJaxUnavailable as exc:
        message = f"Anki's MathJax is not in the cache ({exc}): fetch it once with '.venv/bin/python -m deckgen.math.mathjax' (part of the README's test command)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def browser(chromium):
    """A headless Chromium driven by playwright, launched with deckgen's own flags
    (runtime/browser.py). One per test (a launch takes a fraction of a second): playwright's sync
    API runs one driver per thread at a time, and deckgen's `browser.offline_session()` (the layout
    check, screenshots) starts its own, so a browser kept for a module or the session would break
    every later test that checks a layout."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: install the test tools with the README's test command (.venv/bin/pip install -c constraints.txt -e '.[test]')")
    from deckgen.runtime.browser import playwright_flags

    with playwright.sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=chromium, args=playwright_flags())
        yield instance
        instance.close()


# ---- content and packages ------------------------------------------------------------------------


def png(width: int = 1, height: int = 1) -> bytes:
    """A valid RGB PNG of one colour (no image library needed). Beyond a million pixels only the
    header is right (the pixel data covers the first rows): enough for a size check to read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = height if width * height <= 1_000_000 else 4
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x30\x80\xd0" * width for _ in range(rows)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def topic(deck_id: str, n: int, *, version: str = "", first: str = "", more_kinds: bool = False) -> str:
    """A synthetic topic `deck_id` of `n` basic notes with ids `{deck_id}-q0`, `{deck_id}-q1`, ...,
    each with a formula in the question and in the answer (`- 答案 {i}：$a_{i} * b$`).

    version: text added to every answer (a new version changes every note);
    first: Markdown of notes placed before the numbered ones;
    more_kinds: add a cloze note (`{deck_id}-cloze`, deletions c1 and c2) and a reversed note
    (`{deck_id}-rev`) after them.
    """
    notes = "\n".join(f"## 问题 {i} $x_{i}$？ {{#{deck_id}-q{i}}}\n\n- 答案 {i}：$a_{{{i}}} * b${version}\n" for i in range(n))
    if more_kinds:
        notes += f"\n## 填空 {{#{deck_id}-cloze}}\n\n{{{{c1::甲}}}} 与 {{{{c2::乙}}}} 与 {{{{c1::丙}}}}\n"
        notes += f"\n## 正面 {{#{deck_id}-rev}}\ntype: reversed\n\n反面\n"
    return f"---\ndeck: 合成::{deck_id}\nid: {deck_id}\n---\n\n{first}{notes}"


@dataclass(frozen=True)
class PackagedNote:
    guid: str
    fields: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Package:
    """What an .apkg holds, read without Anki: compare two builds, or look into one."""

    notes: tuple[PackagedNote, ...]  # by GUID
    media: dict[str, bytes]  # file name -> bytes
    css: dict[str, str]  # note type name -> its CSS


def read_package(apkg: Path) -> Package:
    with zipfile.ZipFile(apkg) as z:
        names = json.loads(z.read("media"))
        media = {name: z.read(number) for number, name in names.items()}
        database = z.read("collection.anki2")
    con = sqlite3.connect(":memory:")
    try:
        con.deserialize(database)
        rows = con.execute("select guid, flds, tags from notes order by guid").fetchall()
        [models] = con.execute("select models from col").fetchone()
    finally:
        con.close()
    notes = tuple(PackagedNote(guid, tuple(flds.split("\x1f")), tuple(tags.split())) for guid, flds, tags in rows)
    return Package(notes, media, {model["name"]: model["css"] for model in json.loads(models).values()})
