"""Render one registered figure to SVG, once per display mode (inside a worker; see workers.py).

In:  {"script": path of the figures/*.py file, "name": figure name}.
Out: {"svg": {"day": text, "night": text}} or {"error": message, "trace": [...], "kind": ...}.
"""
from __future__ import annotations

import importlib.util
import io
import random
import traceback

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from . import figure_api, figure_style  # noqa: E402

_loaded: dict[str, dict] = {}


def _load(script: str) -> dict:
    """Import a figure script once per worker and return the figures it registered."""
    if script not in _loaded:
        figure_api.REGISTRY.clear()
        spec = importlib.util.spec_from_file_location(f"deckgen_figures_{len(_loaded)}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[script] = dict(figure_api.REGISTRY)
    return _loaded[script]


def run_job(job: dict) -> dict:
    script, name = job["script"], job["name"]
    try:
        registry = _load(script)
        if name not in registry:
            return {"error": f"{script} does not register a figure named '{name}'", "kind": "missing"}
        spec = registry[name]
        svgs = {}
        for pal in figure_api.PALETTES:
            svgs[pal.name] = _render(spec, pal)
    except MemoryError:
        raise
    except Exception as exc:  # a figure script may raise anything: report it trimmed to the script
        return {"error": f"{type(exc).__name__}: {exc}", "trace": _script_frames(exc, script), "kind": "raise"}
    if svgs.get("day") is None:
        return {"error": "the figure draws nothing", "kind": "empty"}
    return {"svg": svgs}


def _render(spec, pal) -> str | None:
    import numpy as np

    figure_style.apply(pal)
    random.seed(0)
    np.random.seed(0)
    fig = Figure(figsize=spec.size, layout="constrained")
    spec.draw(fig, pal)
    if not fig.axes and not fig.artists and not fig.texts and not fig.lines and not fig.patches and not fig.images:
        return None
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    return buf.getvalue()


def _script_frames(exc: BaseException, script: str) -> list[str]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == script]
    return [f"line {f.lineno} in {f.name}: {f.line}" for f in frames]
