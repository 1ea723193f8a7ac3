"""Figures: find what `figures/*.py` define, render what is missing, hand out media files.

In:  the figure scripts and the figure names the notes refer to.
Out: for each used figure, its day and night SVG as media files with content-hashed names
     (so an edited figure reaches users instead of being shadowed by an old file of the same
     name), plus errors located at the reference and the script.

Names are found by reading the scripts' source (`@figure("name")`), never by importing them, so a
build with nothing to render imports neither the scripts nor matplotlib. A figure is rendered
again only when its script, the files it may import from figures/, the shared style or the
library versions change.
"""
from __future__ import annotations

import ast
import difflib
import hashlib
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from .cache import Cache, atomic_write, key_for
from .errors import ErrorList
from .records import Location

FIGURE_VERSION = "1"
MEDIA_NAME_LIMIT = 120  # bytes; Anki refuses longer media file names


@dataclass(frozen=True)
class FigureSource:
    name: str
    script: Path
    display: str  # the script's path for messages
    line: int
    key: str  # cache key: changes whenever the rendering could change


@dataclass(frozen=True)
class FigureMedia:
    day: str
    night: str


def discover(figures_dir: Path, root: Path, errors: ErrorList) -> dict[str, FigureSource]:
    scripts = sorted(figures_dir.glob("*.py")) if figures_dir.is_dir() else []
    helpers = [p for p in scripts if p.name.startswith("_")]
    shared = _shared_key(helpers)
    found: dict[str, FigureSource] = {}
    for script in scripts:
        if script in helpers:
            continue
        display = _display(script, root)
        source = script.read_bytes()
        for name, line in _registered_names(source, display, errors):
            if name in found:
                other = found[name]
                errors.add(Location(display, line), f"figure '{name}' is already defined at {other.display}:{other.line}", "give one of them another name")
                continue
            key = key_for("figure", FIGURE_VERSION, name, hashlib.sha256(source).hexdigest(), shared)
            found[name] = FigureSource(name, script.resolve(), display, line, key)
    return found


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _registered_names(source: bytes, display: str, errors: ErrorList) -> list[tuple[str, int]]:
    try:
        tree = ast.parse(source, filename=display)
    except SyntaxError as exc:
        errors.add(Location(display, exc.lineno or 1), f"figure script has a syntax error: {exc.msg}", "fix the Python syntax")
        return []
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "id", getattr(deco.func, "attr", None)) == "figure":
                arg = deco.args[0] if deco.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.append((arg.value, deco.lineno))
                else:
                    errors.add(Location(display, deco.lineno), "@figure needs the figure name as a literal string", 'write @figure("my-figure")')
    return names


def _shared_key(helpers: list[Path]) -> str:
    """Everything besides its own script that can change how a figure looks."""
    style = b"".join(
        resources.files("deckgen").joinpath(name).read_bytes()
        for name in ("figure_api.py", "figure_style.py", "figure_worker.py")
    )
    parts = [hashlib.sha256(style).hexdigest()]
    parts += [hashlib.sha256(p.read_bytes()).hexdigest() for p in helpers]
    parts += [_version(lib) for lib in ("matplotlib", "numpy")]
    return key_for(*parts)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def unknown_figure_hint(name: str, known: dict[str, FigureSource]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    if close:
        return f"did you mean {', '.join(close)}?"
    listed = ", ".join(sorted(known)[:8]) or "none yet"
    return f"known figures: {listed}; define it with @figure(\"{name}\") in figures/*.py"


def render(needed: dict[str, list[Location]], known: dict[str, FigureSource], cache: Cache, media_dir: Path, errors: ErrorList, jobs: int = 0, timeout: float = 60.0, progress: bool = False) -> tuple[dict[str, FigureMedia], int]:
    """Render the figures in `needed` that are not cached; return their media and how many were rendered."""
    todo = [known[name] for name in sorted(needed) if not cache.has("figure", known[name].key)]
    if todo:
        results = _render_all(todo, jobs, timeout, progress)
        for source, result in zip(todo, results):
            if "svg" in result:
                cache.put_json("figure", source.key, result["svg"])
            else:
                _report(source, result, needed[source.name], errors)
    media = {}
    for name in sorted(needed):
        svgs = cache.get_json("figure", known[name].key)
        if svgs is None:
            continue
        media[name] = FigureMedia(*(_materialize(name, mode, svgs[mode], media_dir) for mode in ("day", "night")))
    return media, len(todo)


def _render_all(todo: list[FigureSource], jobs: int, timeout: float, progress: bool) -> list[dict]:
    from .workers import run_jobs

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="figures", unit="fig", leave=False)
    try:
        return run_jobs("figure", [{"script": str(s.script), "name": s.name} for s in todo], timeout, jobs, bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def _report(source: FigureSource, result: dict, uses: list[Location], errors: ErrorList) -> None:
    trace = "; ".join(result.get("trace", []))
    where = f" ({source.display}: {trace})" if trace else f" (defined at {source.display}:{source.line})"
    hints = {
        "timeout": "make it faster (fewer points, smaller experiment) or cache heavy numbers in the script",
        "empty": "draw into the figure you are given, e.g. ax = fig.subplots(); ax.plot(...)",
        "memory": "use smaller arrays",
    }
    hint = hints.get(result.get("kind"), f"fix the figure function in {source.display}")
    for use in uses:
        errors.add(use, f"figure '{source.name}' failed: {result['error']}{where}", hint)


def _materialize(name: str, mode: str, svg: str, media_dir: Path) -> str:
    data = svg.encode()
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem = name[: MEDIA_NAME_LIMIT - 40]
    file_name = f"fig-{stem}-{digest}.{mode}.svg"
    path = media_dir / file_name
    if not path.exists() or path.stat().st_size != len(data):
        atomic_write(path, data)
    return file_name
