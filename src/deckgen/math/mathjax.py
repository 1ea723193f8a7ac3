"""Anki's own MathJax: where its files are, and how Anki configures it.

In:  nothing but the installed `anki` version (or an importable `_aqt`).
Out: `mathjax_dir()`, the folder holding Anki's `tex-chtml-full.js` and its fonts;
     `anki_mathjax_config()`, the text of Anki's `mathjax.js` configuration script;
     `script_tags(url)`, the HTML that loads both into a page exactly as Anki's reviewer does;
     `copy_mathjax(dest)`, a copy for a page that must stand alone (the preview);
     `svg_script()`, MathJax's SVG build of the same version, for formula images.

Anki ships MathJax inside the `aqt` wheel (`_aqt/data/web/js/`), not inside the `anki` engine
we depend on. When `_aqt` is not importable, the wheel of the matching version is fetched once
with `pip download` into the user cache (`~/.cache/deckgen/`), and only the MathJax files are
kept, so every check renders with the very build and configuration Anki users have.
`python -m deckgen.math.mathjax` fetches both builds ahead of time (the README's test command).

Anki's `tex-chtml-full.js` is byte for byte the one in npm's `mathjax` package of the same
version; that package also holds `tex-svg-full.js`, the same engine with SVG output, which
`svg_script()` fetches once with `npm pack` (only `--math-images` needs it).
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata, util
from pathlib import Path

from deckgen.runtime.cache import atomic_write

# Used when the `anki` package is not installed; keep it equal to the test pin in pyproject.toml.
DEFAULT_ANKI_VERSION = "26.9.3"
ENTRY_SCRIPT = "tex-chtml-full.js"
SVG_SCRIPT = "tex-svg-full.js"
_JS = "_aqt/data/web/js/"  # inside the aqt wheel
_CONFIG = "mathjax.js"
_VENDOR = "vendor/mathjax/"


class MathJaxUnavailable(RuntimeError):
    """Anki's MathJax could not be found or fetched (no aqt and no network, for example)."""


def anki_version() -> str:
    try:
        return metadata.version("anki")
    except metadata.PackageNotFoundError:
        return DEFAULT_ANKI_VERSION


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deckgen"


def mathjax_dir() -> Path:
    """The folder holding `tex-chtml-full.js`, its fonts and its extensions."""
    return _js_dir() / _VENDOR.rstrip("/")


def anki_mathjax_config() -> str:
    """Anki's MathJax configuration script (`window.MathJax = {...}`), as the reviewer loads it."""
    return (_js_dir() / _CONFIG).read_text(encoding="utf-8")


def script_tags(mathjax_url: str, entry: str = ENTRY_SCRIPT, extra_config: str = "") -> str:
    """`<script>`s that load MathJax as Anki does, from `mathjax_url` (the `mathjax_dir()` copy).

    Anki's config points the loader at `/_anki/js/vendor/mathjax`, a path only Anki's own web
    server answers; everything else in it is kept as it is. `extra_config` is JavaScript run
    after Anki's config and before MathJax loads (e.g. options for the SVG output).
    """
    url = mathjax_url.rstrip("/")
    config = anki_mathjax_config().replace("</", "<\\/")
    return (
        f"<script>{config}</script>\n"
        f"<script>window.MathJax.loader.paths.mathjax = {json.dumps(url)};{extra_config}</script>\n"
        f'<script src="{url}/{entry}"></script>'
    )


def copy_mathjax(dest: Path) -> Path:
    """Copy Anki's MathJax to `dest` (replacing an older copy); returns `dest`.

    The speech-rule maps (`sre/`, 2.3 MB) are left out: Anki's config never loads them.
    """
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(mathjax_dir(), dest, ignore=shutil.ignore_patterns("sre"))
    return dest


def mathjax_version() -> str:
    """The MathJax version of Anki's build, as recorded when the command list was generated."""
    from deckgen.math.texcheck import vocabulary_source

    return vocabulary_source()["mathjax"]


@lru_cache(maxsize=1)
def svg_script() -> Path:
    """`tex-svg-full.js` of Anki's MathJax version, fetched once from npm into the user cache."""
    version = mathjax_version()
    target = cache_root() / f"mathjax-{version}" / SVG_SCRIPT
    if not target.is_file():
        with _locked(cache_root() / f"mathjax-{version}.lock"):
            if not target.is_file():
                _fetch_npm(version, target)
    return target


@lru_cache(maxsize=1)
def _js_dir() -> Path:
    """`.../_aqt/data/web/js`: from an importable `_aqt`, else from the cached wheel."""
    spec = util.find_spec("_aqt")
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / "data/web/js"
        if (installed / _VENDOR / ENTRY_SCRIPT).is_file():
            return installed
    version = anki_version()
    cached = cache_root() / f"aqt-{version}" / "js"
    if not (cached / _VENDOR / ENTRY_SCRIPT).is_file():
        with _locked(cache_root() / f"aqt-{version}.lock"):
            if not (cached / _VENDOR / ENTRY_SCRIPT).is_file():  # another process may have done it
                _fetch(version, cached)
    return cached


def _fetch(version: str, target: Path) -> None:
    """Download the aqt wheel of `version` and keep only its MathJax files in `target`."""
    with tempfile.TemporaryDirectory(prefix="deckgen-aqt-") as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "--dest", tmp, f"aqt=={version}"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )
        wheels = list(Path(tmp).glob("aqt-*.whl"))
        if proc.returncode != 0 or not wheels:
            reason = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise MathJaxUnavailable(f"could not fetch Anki's MathJax (pip download aqt=={version}): {reason}")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".js-", dir=target.parent))
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                for name in wheel.namelist():
                    if name == _JS + _CONFIG or (name.startswith(_JS + _VENDOR) and not name.endswith("/")):
                        wheel.extract(name, staging)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging / _JS.rstrip("/"), target)  # appears whole or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _fetch_npm(version: str, target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise MathJaxUnavailable("npm not found: formula images need it once, to fetch MathJax's SVG build (apt-get install npm)")
    with tempfile.TemporaryDirectory(prefix="deckgen-mathjax-") as tmp:
        proc = subprocess.run([npm, "pack", f"mathjax@{version}", "--pack-destination", tmp, "--silent"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        packs = list(Path(tmp).glob("mathjax-*.tgz"))
        if proc.returncode != 0 or not packs:
            reason = (proc.stderr.strip().splitlines() or ["no package downloaded"])[-1]
            raise MathJaxUnavailable(f"could not fetch MathJax {version} (npm pack mathjax@{version}): {reason}")
        with tarfile.open(packs[0]) as pack:
            member = pack.extractfile(f"package/es5/{SVG_SCRIPT}")
            if member is None:
                raise MathJaxUnavailable(f"mathjax@{version} holds no es5/{SVG_SCRIPT}")
            data = member.read()
    atomic_write(target, data)


@contextmanager
def _locked(path: Path):
    """Serialise the one-time fetch between processes (parallel tests, two builds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def main() -> int:
    """`python -m deckgen.math.mathjax`: fetch Anki's MathJax (and, with npm, the SVG build) into
    the user cache now, while the network may be used; the tests may reach only loopback."""
    try:
        print(f"Anki's MathJax {anki_version()}: {mathjax_dir()}")
        if shutil.which("npm"):
            print(f"MathJax's SVG build (--math-images): {svg_script()}")
        else:
            print("MathJax's SVG build (--math-images): not fetched, npm not found")
    except MathJaxUnavailable as exc:
        print(f"deckgen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
