"""Shared fixtures: small projects in tmp_path, and running the real `deckgen` command."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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

    Tests never build the checkout itself: its dist/, cache and lock file stay untouched.
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
