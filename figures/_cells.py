"""Grids of cells shared by several figure scripts (`from _cells import draw_cells, ...`).

A matrix of numbers drawn as a grid with one number per cell, sized for a phone: the digits use
the shared style's sizes (never a fixed point size), zeros are muted, and a cell's shade or mark
comes from the palette, so the grid reads in day and night mode.
"""
import numpy as np
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import LinearSegmentedColormap, ListedColormap, to_rgb
from matplotlib.patches import Rectangle


def bare(ax):
    """No ticks, no spines: the cells are the picture."""
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)


def contrast(a, b) -> float:
    """WCAG contrast ratio of two colours."""

    def lum(c):
        v = np.array(to_rgb(c))
        v = np.where(v <= 0.03928, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
        return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def blend(pal, color, alpha):
    """`color` at opacity `alpha` over the card background, as an RGB tuple."""
    return tuple(alpha * np.array(to_rgb(color)) + (1 - alpha) * np.array(to_rgb(pal.bg)))


def ink(pal, cell) -> str:
    """The text colour (pal.fg or pal.bg) that reads best on a cell of colour `cell`."""
    return max((pal.fg, pal.bg), key=lambda c: contrast(c, cell))


def ramp(pal):
    """Card background to series blue: 0 disappears into the card in both modes."""
    return LinearSegmentedColormap.from_list("ramp", [pal.bg, pal.c[0]])


def two_tone(pal):
    """Off / on cells: grid grey and series blue."""
    return ListedColormap([pal.grid, pal.c[0]])


def draw_cells(ax, m, pal, fmt="{:g}", shade=True, mark=None, mark_color=None, boxes=(),
               block=None, size=None, fontsize="medium"):
    """Draw matrix `m` as a grid of cells with its numbers.

    fmt: a format string ("{:.1f}") or a function of the value.
    shade: fill non-zero cells with pal.c[0], stronger for larger |value|.
    mark: boolean matrix of cells to fill with `mark_color` (default pal.c[1]) instead.
    boxes: (row, col, rows, cols) rectangles outlined in pal.c[1], e.g. a kernel window.
    block: thicker lines every `block` cells (pooling windows).
    size: (rows, cols) of the area reserved, so that small matrices get the cell size of big ones.
    """
    n0, n1 = m.shape
    vmax = np.abs(m).max() or 1
    mark_color = mark_color or pal.c[1]
    cells, fills = [], []  # one collection for all fills: far cheaper than a patch per cell
    for i in range(n0):
        for j in range(n1):
            v = m[i, j]
            if mark is not None and mark[i, j]:
                fill = blend(pal, mark_color, 0.45)
            elif shade and v != 0:
                fill = blend(pal, pal.c[0], 0.12 + 0.4 * abs(v) / vmax)
            else:
                fill = None
            if fill is not None:
                cells.append(Rectangle((j - 0.5, i - 0.5), 1, 1))
                fills.append(fill)
            color = (ink(pal, fill) if fill is not None else pal.fg) if v != 0 else pal.muted
            text = fmt(v) if callable(fmt) else fmt.format(v)
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=fontsize, zorder=3)
    if cells:
        ax.add_collection(PatchCollection(cells, facecolors=fills, linewidths=0, zorder=1))
    thin, thick = [], []
    for t in range(n0 + 1):
        (thick if block and t % block == 0 and 0 < t < n0 else thin).append([(-0.5, t - 0.5), (n1 - 0.5, t - 0.5)])
    for t in range(n1 + 1):
        (thick if block and t % block == 0 and 0 < t < n1 else thin).append([(t - 0.5, -0.5), (t - 0.5, n0 - 0.5)])
    ax.add_collection(LineCollection(thin, colors=pal.grid, linewidths=1, zorder=2, capstyle="butt"))
    if thick:
        ax.add_collection(LineCollection(thick, colors=pal.muted, linewidths=2, zorder=2, capstyle="butt"))
    for r, c, h, w in boxes:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, facecolor="none", edgecolor=pal.c[1],
                               lw=2.5, zorder=4))
    rows, cols = size or (n0, n1)
    pr, pc = (rows - n0) / 2, (cols - n1) / 2
    ax.set_xlim(-0.5 - pc - 0.05, n1 - 0.5 + pc + 0.05)
    ax.set_ylim(n0 - 0.5 + pr + 0.05, -0.5 - pr - 0.05)
    ax.set_aspect("equal")
    bare(ax)
