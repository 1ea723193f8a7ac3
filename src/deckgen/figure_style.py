"""The shared look of every figure: phone-readable sizes, CJK-capable fonts, one palette per mode.

In:  a `Palette` (day or night).
Out: matplotlib rcParams applied in the rendering worker. Text is written into the SVG as paths,
     so phones need no font; the SVG background is transparent and colours come from the palette.
"""
from __future__ import annotations

import matplotlib

from .figure_api import Palette

FONT_FAMILIES = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "DejaVu Sans"]


def apply(pal: Palette) -> None:
    matplotlib.rcParams.update({
        "font.family": "sans-serif",
        "font.sans-serif": FONT_FAMILIES,
        "font.size": 13,
        "axes.titlesize": 14,
        "axes.labelsize": 13,
        "legend.fontsize": 11,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "lines.linewidth": 2.2,
        "axes.linewidth": 1.0,
        "axes.unicode_minus": False,
        "text.color": pal.fg,
        "axes.labelcolor": pal.fg,
        "axes.edgecolor": pal.muted,
        "axes.facecolor": "none",
        "figure.facecolor": "none",
        "savefig.facecolor": "none",
        "savefig.transparent": True,
        "xtick.color": pal.muted,
        "ytick.color": pal.muted,
        "xtick.labelcolor": pal.fg,
        "ytick.labelcolor": pal.fg,
        "grid.color": pal.grid,
        "grid.linewidth": 0.8,
        "legend.frameon": False,
        "axes.prop_cycle": matplotlib.cycler(color=list(pal.c)),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.fonttype": "path",
        "svg.hashsalt": "deckgen",
        "figure.dpi": 100,
        "image.cmap": "viridis",
    })
