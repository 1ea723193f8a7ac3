"""Figures: find what `figures/*.py` define, render what is missing, hand out media files.

In:  the figure scripts and the figure names the notes refer to.
Out: for each used figure, its day and night SVG as media files with content-hashed names
     (so an edited figure reaches users instead of being shadowed by an old file of the same
     name), plus errors located at the reference and the script; and, for `deckgen figures`,
     a `Listing` of every figure with its uses and cache state.

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
from functools import lru_cache
from importlib import resources
from pathlib import Path

from deckgen.runtime.cache import Cache, atomic_write, key_for
from deckgen.config import BuildConfig
from deckgen.errors import ContentError, ErrorList
from deckgen.records import Location, Topic

FIGURE_VERSION = "2"
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
    # Every module of this package: renaming or moving one cannot drop it from the key.
    package = resources.files("deckgen.figures")
    style = b"".join(entry.read_bytes() for entry in sorted(package.iterdir(), key=lambda e: e.name) if entry.name.endswith(".py"))
    parts = [hashlib.sha256(style).hexdigest()]
    parts += [hashlib.sha256(p.read_bytes()).hexdigest() for p in helpers]
    return key_for(*parts, library_versions())


@lru_cache(maxsize=1)
def library_versions() -> tuple[str, ...]:
    """Versions of the libraries that draw, shrink and letter the figures."""
    from deckgen.builder.store import installed_version

    return tuple(f"{dist}=={installed_version(dist)}" for dist in ("matplotlib", "numpy", "scour", "noto-cjk-sans-otc"))


def references(topics: list[Topic]) -> dict[str, list[Location]]:
    """Every `figure:NAME` reference in the notes, by name, in source order."""
    refs: dict[str, list[Location]] = {}
    for topic in topics:
        for note in topic.notes:
            for ref in note.media:
                if ref.figure_name is not None:
                    refs.setdefault(ref.figure_name, []).append(ref.location)
    return refs


def check_known(refs: dict[str, list[Location]], known: dict[str, FigureSource], errors: ErrorList) -> dict[str, list[Location]]:
    """The references to known figures; each reference to an unknown name is an error."""
    for name, uses in refs.items():
        if name not in known:
            for use in uses:
                errors.add(use, f"unknown figure '{name}'", unknown_figure_hint(name, known))
    return {name: uses for name, uses in refs.items() if name in known}


def unknown_figure_hint(name: str, known: dict[str, FigureSource]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    if close:
        where = ", ".join(f"{c} ({known[c].display}:{known[c].line})" for c in close)
        return f"did you mean {where}?"
    listed = ", ".join(sorted(known)[:8]) or "none yet"
    return f"known figures: {listed}; define it with @figure(\"{name}\") in figures/*.py"


def unused_warnings(known: dict[str, FigureSource], used) -> list[str]:
    """A warning for each figure no note refers to (`used`: the names referred to)."""
    return [f"{s.display}:{s.line}: figure '{s.name}' is not used by any note" for name, s in sorted(known.items()) if name not in used]


@dataclass(frozen=True)
class FigureStatus:
    """One line of `deckgen figures`: where a figure is defined and used, and its cached SVGs."""

    source: FigureSource
    uses: tuple[Location, ...]
    svg_bytes: tuple[int, int] | None  # (day, night) sizes when cached, else None


@dataclass(frozen=True)
class Listing:
    """What `deckgen figures` prints: every figure, plus the problems found on the way."""

    figures: tuple[FigureStatus, ...]
    warnings: tuple[str, ...]  # unused figures
    errors: tuple[ContentError, ...]  # unknown references, broken scripts or content files


def listing(config: BuildConfig) -> Listing:
    """Every figure of the project with its uses and cache state; renders nothing."""
    from deckgen.source.parse import parse_topic

    errors = ErrorList()
    known = discover(config.figures_dir, config.root, errors)
    paths = sorted(config.content_dir.glob("*.md")) if config.content_dir.is_dir() else []
    topics = [t for p in paths if (t := parse_topic(p.read_bytes(), config.display(p), errors))]
    refs = references(topics)
    check_known(refs, known, errors)
    cache = Cache(config.cache_dir)
    statuses = []
    for name, source in sorted(known.items()):
        svgs = cache.get_json("figure", source.key)
        sizes = (len(svgs["day"].encode()), len(svgs["night"].encode())) if svgs else None
        statuses.append(FigureStatus(source, tuple(refs.get(name, ())), sizes))
    return Listing(tuple(statuses), tuple(unused_warnings(known, refs)), tuple(errors))


def render(needed: dict[str, list[Location]], known: dict[str, FigureSource], cache: Cache, media_dir: Path, errors: ErrorList, jobs: int = 0, timeout: float = 60.0, progress: bool = False, warnings: list[str] | None = None) -> tuple[dict[str, FigureMedia], int]:
    """Render the figures in `needed` that are not cached; return their media and how many were
    rendered. What makes a figure hard to read on a phone is added to `warnings`."""
    todo = [known[name] for name in sorted(needed) if not cache.has("figure", known[name].key)]
    if todo:
        results = _render_all(todo, jobs, timeout, progress)
        for source, result in zip(todo, results):
            if "svg" in result:
                cache.put_json("figure", source.key, dict(result["svg"], layout=result.get("layout", [])))
            else:
                _report(source, result, needed[source.name], errors)
    media = {}
    for name in sorted(needed):
        svgs = cache.get_json("figure", known[name].key)
        if svgs is None:
            continue
        media[name] = FigureMedia(*(_materialize(name, mode, svgs[mode], media_dir) for mode in ("day", "night")))
        source = known[name]
        for problem in svgs.get("layout", ()) if warnings is not None else ():
            warnings.append(f"{source.display}:{source.line}: figure '{name}' is hard to read on a phone: {problem}")
    return media, len(todo)


def _render_all(todo: list[FigureSource], jobs: int, timeout: float, progress: bool) -> list[dict]:
    from deckgen.runtime.workers import run_jobs

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="figures", unit="fig", leave=False)
    try:
        return run_jobs("deckgen.figures.worker", [{"script": str(s.script), "name": s.name} for s in todo], timeout, jobs, bar.update if bar else None)
    finally:
        if bar:
            bar.close()


_HINTS = {
    "timeout": "make it faster (fewer points, a smaller experiment) or pass a larger --figure-timeout",
    "empty": "draw into the figure you are given, e.g. ax = fig.subplots(); ax.plot(...)",
    "memory": "use smaller arrays or fewer of them",
}


def _report(source: FigureSource, result: dict, uses: list[Location], errors: ErrorList) -> None:
    """One error per reference, naming the figure's own file:line and the failing lines in figures/."""
    frames = [_frame_place(source, frame) for frame in result.get("trace", [])]
    message = f"figure '{source.name}' ({source.display}:{source.line}) failed: {result['error']}"
    if frames:
        message += " at " + " → ".join(f"{place} in {frame['function']}" + (f": {frame['code']}" if frame.get("code") else "") for place, frame in zip(frames, result["trace"]))
    hint = _HINTS.get(result.get("kind")) or f"fix {frames[-1] if frames else f'the figure function at {source.display}:{source.line}'}"
    for use in uses:
        errors.add(use, message, hint)


def _frame_place(source: FigureSource, frame: dict) -> str:
    """`figures/x.py:12` for a traceback frame, with the path as the author sees it."""
    path = Path(frame["file"])
    display = source.display if path == source.script else str(Path(source.display).parent / path.name)
    return f"{display}:{frame['line']}"


def _materialize(name: str, mode: str, svg: str, media_dir: Path) -> str:
    data = svg.encode()
    digest = hashlib.sha256(data).hexdigest()[:12]
    # Anki's limit is in bytes: cut the UTF-8 name, never inside a character.
    stem = name.encode()[: MEDIA_NAME_LIMIT - 40].decode(errors="ignore")
    file_name = f"fig-{stem}-{digest}.{mode}.svg"
    path = media_dir / file_name
    if not path.exists() or path.stat().st_size != len(data):
        atomic_write(path, data)
    return file_name
