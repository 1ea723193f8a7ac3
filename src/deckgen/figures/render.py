"""Render the figures the notes use, in contained workers, and hand out their media files.

In:  the figures the notes refer to (`FigureSource` records from the registry), the cache.
Out: for each figure, its day and night SVG as media files with content-hashed names (so an
     edited figure reaches users instead of being shadowed by an old file of the same name);
     errors at every reference to a figure that fails, naming the script's `file:line`; warnings
     for what makes a figure hard to read on a phone.

A figure is rendered again only when its key changes: its script, the helpers in figures/_*.py,
deckgen's figure package, or the drawing libraries (runtime/keys.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deckgen import limits
from deckgen.errors import ErrorList
from deckgen.figures.registry import FigureSource
from deckgen.records import Location
from deckgen.runtime import progress
from deckgen.runtime.cache import Cache, atomic_write
from deckgen.runtime.keys import Kind, sha256

if TYPE_CHECKING:
    from deckgen.runtime.workers import Failure, Limits

HANDLER = "deckgen.figures.worker"


@dataclass(frozen=True)
class FigureMedia:
    day: str  # media file names
    night: str


@dataclass(frozen=True)
class Rendered:
    media: dict[str, FigureMedia]  # by figure name
    count: int  # figures rendered in this build (not from the cache)
    warnings: tuple[str, ...]  # figures that are hard to read on a phone


def render(needed: dict[str, list[Location]], known: dict[str, FigureSource], cache: Cache, media_dir: Path, errors: ErrorList,
           jobs: int = 0, cpu_seconds: float = limits.FIGURE_CPU_SECONDS, mode: progress.Mode = progress.Mode.OFF) -> Rendered:
    """Render the figures in `needed` that are not cached, then materialize every needed one."""
    todo = [known[name] for name in sorted(needed) if _cached(cache, known[name]) is None]
    if todo:
        from deckgen.runtime.workers import Failure, Limits  # deferred: with every figure cached no worker starts

        job_limits = Limits(cpu_seconds, what="figure", flag="--figure-timeout")
        with progress.stage("figures", len(todo), mode, "figure") as shown:
            results = run_workers(todo, job_limits, jobs, shown.advance)
        for source, result in zip(todo, results, strict=True):
            if result.failure is None and _svgs(result.value) is not None:
                cache.put_json(Kind.FIGURE, source.key, result.value)
            else:
                _report(source, result.failure or Failure("crash", "the worker returned no SVG"), job_limits, needed[source.name], errors)
    media, warnings = {}, []
    for name in sorted(needed):
        entry = _cached(cache, known[name])
        if entry is None:
            continue
        media[name] = FigureMedia(_materialize(name, "day", entry["day"], media_dir), _materialize(name, "night", entry["night"], media_dir))
        source = known[name]
        warnings += [f"{source.display}:{source.line}: figure '{name}' is hard to read on a phone: {problem}" for problem in entry.get("layout", ())]
    return Rendered(media, len(todo), tuple(warnings))


def _cached(cache: Cache, source: FigureSource) -> dict[str, Any] | None:
    return _svgs(cache.get_json(Kind.FIGURE, source.key))


def _svgs(entry: Any) -> dict[str, Any] | None:
    """The entry when it holds a day and a night SVG (a damaged one is a miss)."""
    if isinstance(entry, dict) and isinstance(entry.get("day"), str) and isinstance(entry.get("night"), str):
        return entry
    return None


def run_workers(todo: list[FigureSource], job_limits: Limits, jobs: int, on_done: Any) -> list[Any]:
    from deckgen.runtime.workers import run_jobs  # deferred: a build with every figure cached starts none

    readable = tuple(sorted({str(s.script.parent) for s in todo}))  # the scripts, their helpers and data
    return run_jobs(HANDLER, [{"script": str(s.script), "name": s.name} for s in todo], dataclasses.replace(job_limits, readable=readable), jobs, on_done)


_HINTS = {
    "cpu": "make it faster (vectorise, a smaller experiment, cache the experiment with functools.cache) or raise the limit with --figure-timeout",
    "wall": "the figure waits instead of computing (sleep, input, a lock): remove that",
    "empty": "draw into the figure you are given, e.g. ax = fig.subplots(); ax.plot(...)",
    "memory": "use smaller arrays or fewer of them",
}


def _report(source: FigureSource, failure: Failure, job_limits: Limits, uses: list[Location], errors: ErrorList) -> None:
    """One error per reference, naming the figure's own file:line and the failing lines in figures/."""
    frames = [_frame_place(source, frame) for frame in failure.trace]
    message = failure.message
    if failure.kind == "cpu":
        message = f"used more than {job_limits.cpu_seconds:g} s of CPU time (the CPU time limit per figure) and was stopped"
    elif failure.kind == "memory":
        message = f"used more than {job_limits.memory_bytes / 2**30:g} GiB of memory (the memory limit) and was stopped"
    message = f"figure '{source.name}' ({source.display}:{source.line}) failed: {message}"
    if frames:
        message += " at " + " → ".join(f"{place} in {frame['function']}" + (f": {frame['code']}" if frame.get("code") else "") for place, frame in zip(frames, failure.trace, strict=True))
    hint = _HINTS.get(failure.kind) or f"fix {frames[-1] if frames else f'the figure function at {source.display}:{source.line}'}"
    for use in uses:
        errors.add(use, message, hint)


def _frame_place(source: FigureSource, frame: dict[str, Any]) -> str:
    """`figures/x.py:12` for a traceback frame, with the path as the author sees it."""
    path = Path(frame["file"])
    display = source.display if path == source.script else str(Path(source.display).parent / path.name)
    return f"{display}:{frame['line']}"


def _materialize(name: str, mode: str, svg: str, media_dir: Path) -> str:
    """The media file of one rendering: `fig-NAME-<digest>.MODE.svg` (names are ASCII, checked
    by the registry, so the byte limit cannot cut a character)."""
    data = svg.encode()
    stem = name[: limits.MEDIA_NAME_BYTES - 40]
    file_name = f"fig-{stem}-{sha256(data)[:12]}.{mode}.svg"
    path = media_dir / file_name
    if not path.exists() or path.stat().st_size != len(data):
        atomic_write(path, data)
    return file_name
