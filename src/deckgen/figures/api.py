"""The API that figure scripts in `figures/*.py` use: the `@figure` decorator and the palette.

In:  a figure script decorating `draw(fig, pal)` functions with `@figure("name", size=(w, h))`.
Out: entries in `REGISTRY`, filled only when a script is imported, which happens in the
     rendering worker (the build finds figure names by reading the scripts' source, so a
     no-op build never imports a script, matplotlib or numpy).

This module must stay free of heavy imports: scripts import it at their top.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_SIZE = (6.4, 4.0)


@dataclass(frozen=True)
class Palette:
    """Colours for one display mode; every figure is drawn once per mode."""

    name: str
    fg: str  # text, axes, main lines
    muted: str  # secondary text, reference lines
    grid: str
    bg: str  # the card background of that mode (the SVG itself is transparent)
    c: tuple[str, ...] = field(default_factory=tuple)  # categorical series colours


# Series colours are mid-tones chosen per mode so that each keeps at least 3:1 contrast against
# its background: the day set is darker, the night set lighter, with the same hue order.
DAY = Palette(
    name="day",
    fg="#1f2328",
    muted="#59636e",
    grid="#d0d7de",
    bg="#ffffff",
    c=("#0969da", "#d1541b", "#1a7f37", "#cf222e", "#8250df", "#9a6700", "#bf3989", "#1b7c83"),
)
NIGHT = Palette(
    name="night",
    fg="#e6edf3",
    muted="#9198a1",
    grid="#3d444d",
    bg="#2c2c2c",
    c=("#58a6ff", "#f0883e", "#56d364", "#ff7b72", "#bc8cff", "#e3b341", "#ff80c8", "#39c5cf"),
)
PALETTES = (DAY, NIGHT)


@dataclass(frozen=True)
class FigureSpec:
    """One registered figure: its name, size in inches and drawing function."""

    name: str
    size: tuple[float, float]
    draw: Callable


REGISTRY: dict[str, FigureSpec] = {}


def figure(name: str, size: tuple[float, float] = DEFAULT_SIZE) -> Callable:
    """Register `draw(fig, pal)` as the figure `name`; content uses `![caption](figure:name)`."""

    def register(draw: Callable) -> Callable:
        REGISTRY[name] = FigureSpec(name=name, size=(float(size[0]), float(size[1])), draw=draw)
        return draw

    return register
