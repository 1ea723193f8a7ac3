"""Render one registered figure to SVG, once per display mode (inside a worker; see
runtime/workers.py).

In:  {"script": path of the figures/*.py file, "name": figure name}.
Out: {"day": svg, "night": svg, "layout": [what is hard to read on a phone]}; or `JobFailed` with
     a kind (raise, missing, empty, memory, cpu) and the traceback frames inside figures/ (the
     files the author can edit).
"""
from __future__ import annotations

import importlib.util
import io
import random
import sys
import traceback
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from deckgen.figures import api as figure_api
from deckgen.figures import style as figure_style
from deckgen.limits import MIN_TEXT_PX
from deckgen.runtime.jobs import CpuLimit, JobFailed, describe

_loaded: dict[str, dict[str, figure_api.FigureSpec]] = {}


def _load(script: str) -> dict[str, figure_api.FigureSpec]:
    """Import a figure script once per worker and return the figures it registered."""
    if script not in _loaded:
        folder = str(Path(script).parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # so that scripts can `import _helpers` from figures/
        figure_api.REGISTRY.clear()
        spec = importlib.util.spec_from_file_location(f"deckgen_figures_{len(_loaded)}", script)
        if spec is None or spec.loader is None:
            raise JobFailed("raise", f"cannot load {script}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[script] = dict(figure_api.REGISTRY)
    return _loaded[script]


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    script, name = job["script"], job["name"]
    try:
        registry = _load(script)
        if name not in registry:
            raise JobFailed("missing", f"the script does not register a figure named '{name}' when it runs")
        spec = registry[name]
        rendered = {pal.name: _render(spec, pal) for pal in figure_api.PALETTES}
    except JobFailed:
        raise
    except CpuLimit as exc:
        raise JobFailed("cpu", "used all of its CPU time", trace=_script_frames(exc, script)) from None
    except MemoryError as exc:  # the address-space cap of the worker
        raise JobFailed("memory", "used more memory than allowed", trace=_script_frames(exc, script)) from None
    except SystemExit as exc:  # exit() in a script must not end the worker
        raise JobFailed("raise", f"the script called exit({exc.code if exc.code is not None else ''})", trace=_script_frames(exc, script)) from None
    except Exception as exc:  # a figure script may raise anything: report it trimmed to the script
        raise JobFailed("raise", describe(exc), trace=_script_frames(exc, script)) from None
    day, night = rendered["day"][0], rendered["night"][0]
    if day is None or night is None:
        raise JobFailed("empty", "the figure draws nothing")
    return {"day": day, "night": night, "layout": rendered["day"][1]}


def _render(spec: figure_api.FigureSpec, pal: figure_api.Palette) -> tuple[str | None, list[str]]:
    """The minified SVG (None when nothing is drawn) and what is hard to read on a phone."""
    import numpy as np

    figure_style.apply(pal, spec.size[0])
    # Scripts should use np.random.default_rng(seed); seeding the global generators as well keeps
    # a script that forgot deterministic anyway.
    random.seed(0)
    np.random.seed(0)
    fig = Figure(figsize=spec.size, layout="constrained")
    spec.draw(fig, pal)
    if not _draws_something(fig):
        return None, []
    buf = io.StringIO()
    with _recording_text() as drawn:
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    return _minify(buf.getvalue()), _text_problems(fig, list(drawn.values()), spec.size[0])


class _recording_text:
    """Collects every text matplotlib actually draws (tick labels outside the view are not)."""

    def __enter__(self) -> dict:
        from matplotlib.text import Text

        self._original = Text.draw
        self.drawn: dict[int, tuple] = {}  # by identity: layout passes draw a text more than once
        original, drawn = self._original, self.drawn

        def draw(text, renderer):
            original(text, renderer)
            if text.get_visible() and text.get_text().strip():
                drawn[id(text)] = (text, text.get_window_extent(renderer))

        Text.draw = draw  # type: ignore[method-assign]  # restored in __exit__
        return drawn

    def __exit__(self, *exc) -> None:
        from matplotlib.text import Text

        Text.draw = self._original  # type: ignore[method-assign]


def _text_problems(fig: Any, drawn: list[tuple[Any, Any]], width_in: float) -> list[str]:
    """Text under the phone minimum, texts on top of each other, text cut off at the edge.

    Sizes are CSS pixels on a 390 px phone (figure_style.PHONE_WIDTH_PX wide). The window
    extents were measured while the SVG renderer drew, so they are in its units, points (72 per
    inch), whatever the figure's dpi: the figure's edges must be taken in points too (its
    `bbox` is in pixels at the figure's dpi, 100, and would put the edges 39% too far out).
    """
    pt = figure_style.points_per_px(width_in)

    def label(text: Any, n: int = 20) -> str:
        return " ".join(text.get_text().split())[:n]

    width, height = fig.get_figwidth() * 72, fig.get_figheight() * 72
    problems: list[str] = []
    small = sorted({(round(t.get_fontsize() / pt, 1), label(t)) for t, _ in drawn if t.get_fontsize() / pt < MIN_TEXT_PX - 0.05})
    if small:
        shown = ", ".join(f"'{text}' {px:g} px" for px, text in small[:4])
        problems.append(f"{len(small)} text{'s' if len(small) != 1 else ''} under {MIN_TEXT_PX:g} px on a phone ({shown})")
    margin = 1.0 * pt
    cut = [label(t) for t, box in drawn if box.x0 < -margin or box.y0 < -margin or box.x1 > width + margin or box.y1 > height + margin]
    if cut:
        problems.append(f"text cut off at the figure's edge: {', '.join(repr(c) for c in cut[:4])}")
    overlaps = []
    for i, (a, box_a) in enumerate(drawn):
        for b, box_b in drawn[i + 1:]:
            w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if w > 2 * pt and h > 2 * pt:
                overlaps.append(f"'{label(a, 15)}' and '{label(b, 15)}'")
    if overlaps:
        problems.append(f"texts overlap: {', '.join(overlaps[:3])}")
    return problems


def _minify(svg: str) -> str:
    """The same picture in about 40% fewer bytes (phones sync and store every byte).

    Coordinates keep 4 significant digits: 0.1 pt on a 460 pt wide figure, below a pixel even
    when zoomed in. Paths become relative, styles shared by neighbours move to a group, and
    matplotlib's metadata, indentation and unreferenced ids go.
    """
    from scour import scour

    opts = scour.sanitizeOptions(None)
    opts.digits = 4
    opts.group_create = True
    opts.strip_xml_prolog = True
    opts.remove_metadata = True
    opts.strip_comments = True
    opts.strip_ids = True
    opts.shorten_ids = True
    opts.indent_type = "none"
    opts.newlines = False
    opts.quiet = True
    return scour.scourString(svg, opts)


def _draws_something(fig: Any) -> bool:
    """True if anything but empty axes is on the figure (empty axes alone are a forgotten draw)."""
    if fig.texts or fig.lines or fig.patches or fig.images or fig.artists or fig.legends:
        return True
    for ax in fig.axes:
        if ax.has_data() or ax.texts or ax.artists or ax.tables or ax.get_title():
            return True
    return any(_draws_something(sub) for sub in fig.subfigs)


def _script_frames(exc: BaseException, script: str) -> list[dict[str, Any]]:
    """The traceback frames in the figure script's folder (the script and its `_helpers.py`)."""
    folder = Path(script).parent
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).parent == folder]
    return [{"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line or ""} for f in frames]
