"""The shared look of every figure: phone-readable sizes, a CJK font from pip, one palette per mode.

In:  a `Palette` (day or night).
Out: matplotlib rcParams applied in the rendering worker. Text is written into the SVG as paths,
     so phones need no font; the SVG background is transparent and colours come from the palette.

The Chinese font is Noto Sans CJK SC from the `noto-cjk-sans-otc` wheel (SIL OFL 1.1), a
collection whose third face is Simplified Chinese. It is registered by file path under a family
name of our own, so a Noto Sans CJK installed on the machine can never be picked instead: the same
figure source gives the same SVG bytes on every machine. Latin letters and digits come from the
CJK font too (so mixed labels share one baseline); DejaVu Sans, shipped with matplotlib, is the
fallback for symbols the CJK font lacks.
"""
from __future__ import annotations

import dataclasses

import matplotlib
from cycler import cycler

from deckgen.figures.api import Palette

CJK_FACE = 2  # faces of NotoSansCJK-Regular.ttc: JP, KR, SC, TC, HK, then the Mono ones
CJK_FAMILY = "deckgen Noto Sans CJK SC"
FONT_FAMILIES = [CJK_FAMILY, "DejaVu Sans"]

_registered = False


def cjk_font_path() -> str:
    import noto_cjk_sans_otc

    return str(noto_cjk_sans_otc.FONT_PATH)


def register_fonts() -> None:
    """Make the pip-installed CJK face known to matplotlib (once per process)."""
    global _registered
    if _registered:
        return
    from matplotlib import font_manager, ft2font

    face = ft2font.FT2Font(cjk_font_path(), face_index=CJK_FACE)
    entry = font_manager.ttfFontProperty(face)
    # A name nothing else carries: findfont cannot prefer a system copy of the same family.
    # Nothing has looked this name up yet, so findfont's cache holds no stale answer for it.
    font_manager.fontManager.ttflist.append(dataclasses.replace(entry, name=CJK_FAMILY))
    _registered = True


# A figure fills the card's width; on a 390 px phone that is about PHONE_WIDTH_PX CSS pixels
# (the reviewer's margins take the rest). Text sizes are set in those pixels and converted to
# points for each figure's own width, so every figure reads the same on the phone whatever its
# size in inches. limits.MIN_TEXT_PX is the smallest text that reads without zooming.
PHONE_WIDTH_PX = 350
TEXT_PX = {"base": 14.5, "tick": 12.5, "legend": 12.5, "label": 14.0, "title": 15.5}


def points_per_px(width_in: float) -> float:
    """How many points of a `width_in` wide figure make one CSS pixel on the phone."""
    return width_in * 72 / PHONE_WIDTH_PX


def apply(pal: Palette, width_in: float = 6.4) -> None:
    """Reset matplotlib to its defaults, then set the shared style for `pal` and a figure
    `width_in` inches wide.

    The reset matters: a worker renders many figures one after another, and a script that changes
    rcParams must not change how the next figure looks (output would depend on the job order).
    """
    register_fonts()
    matplotlib.rcdefaults()
    pt = points_per_px(width_in)
    matplotlib.rcParams.update({
        "font.family": "sans-serif",
        "font.sans-serif": FONT_FAMILIES,
        # 'small' (0.833 of font.size) stays at or above limits.MIN_TEXT_PX; 'x-small' does not.
        "font.size": TEXT_PX["base"] * pt,
        "axes.titlesize": TEXT_PX["title"] * pt,
        "figure.titlesize": TEXT_PX["title"] * pt,
        "axes.labelsize": TEXT_PX["label"] * pt,
        "figure.labelsize": TEXT_PX["label"] * pt,
        "legend.fontsize": TEXT_PX["legend"] * pt,
        "xtick.labelsize": TEXT_PX["tick"] * pt,
        "ytick.labelsize": TEXT_PX["tick"] * pt,
        "lines.linewidth": 2.2,
        "lines.markersize": 6,
        "axes.linewidth": 1.0,
        "axes.unicode_minus": False,
        "mathtext.fontset": "dejavusans",
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
        "axes.prop_cycle": cycler(color=list(pal.c)),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.fonttype": "path",  # glyph outlines, so the phone needs no CJK font
        "svg.hashsalt": "deckgen",  # fixed ids inside the SVG instead of random ones
        "path.simplify": True,
        "figure.dpi": 100,
        "image.cmap": "viridis",
    })
