"""Figures for the segmentation deck (content/segmentation.md).

Computed, not drawn: the three kinds of segmentation labels are rasterised from one synthetic
scene, the ASPP counts come from enumerating every output position of a zero-padded 3x3 atrous
kernel, and the Dice curve is the identity Dice = 2 IoU / (1 + IoU).
"""
import functools

import numpy as np
from matplotlib.colors import to_rgb

from deckgen.figure_api import figure

# ---------------------------------------------------------------- semantic / instance / panoptic

@functools.cache
def scene(h=60, w=96):
    """Stuff: sky (top) and road (bottom); things: two overlapping people and a car.
    Returns the semantic class map (0 sky, 1 road, 2 person, 3 car) and an instance map
    (0 = stuff, 1.. = thing instances); later objects are in front of earlier ones."""
    yy, xx = np.mgrid[0:h, 0:w]
    sem = np.where(yy < 0.45 * h, 0, 1)
    inst = np.zeros((h, w), int)
    things = [  # (class, mask)
        (2, ((xx - 24) / 7.0) ** 2 + ((yy - 34) / 17.0) ** 2 <= 1),
        (2, ((xx - 34) / 7.0) ** 2 + ((yy - 37) / 17.0) ** 2 <= 1),
        (3, (xx >= 52) & (xx <= 86) & (yy >= 32) & (yy <= 50)),
    ]
    for k, (c, m) in enumerate(things, start=1):
        sem[m] = c
        inst[m] = k
    return sem, inst


@figure("seg-tasks", size=(6.4, 1.95))
def seg_tasks(fig, pal):
    sem, inst = scene()
    assert set(np.unique(inst)) == {0, 1, 2, 3}          # both people stay visible
    assert set(np.unique(sem[inst == 1])) == {2} and set(np.unique(sem[inst == 2])) == {2}
    stuff_col = {0: to_rgb(pal.c[0]), 1: to_rgb(pal.muted)}
    class_col = {2: to_rgb(pal.c[1]), 3: to_rgb(pal.c[2])}
    inst_col = {1: to_rgb(pal.c[1]), 2: to_rgb(pal.c[4]), 3: to_rgb(pal.c[2])}
    blank = to_rgb(pal.grid)
    h, w = sem.shape
    semantic = np.zeros((h, w, 3))
    instance = np.zeros((h, w, 3))
    panoptic = np.zeros((h, w, 3))
    for c, col in {**stuff_col, **class_col}.items():
        semantic[sem == c] = col
    instance[:] = blank
    for k, col in inst_col.items():
        instance[inst == k] = col
    panoptic[:] = semantic
    for k, col in inst_col.items():
        panoptic[inst == k] = col
    axes = fig.subplots(1, 3)
    for ax, img, title in zip(axes, (semantic, instance, panoptic), ("语义分割", "实例分割", "全景分割")):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)


# ---------------------------------------------------------------- ASPP: valid taps of a 3x3 atrous kernel

def valid_taps(n, rate):
    """For every output position of an n x n map, how many of the 9 taps of a 3x3 kernel with this
    dilation rate fall inside the map (the rest read zero padding)."""
    i = np.arange(n)
    per_axis = 1 + (i - rate >= 0) + (i + rate <= n - 1)     # 1, 2 or 3 valid taps per axis
    return np.outer(per_axis, per_axis)


@figure("aspp-valid-weights", size=(6.4, 3.9))
def aspp_valid_weights(fig, pal):
    """33 x 33 map (513 x 513 crop at output stride 16), rates 1..40."""
    n = 33
    rates = np.arange(1, 41)
    full = np.array([np.mean(valid_taps(n, r) == 9) for r in rates])
    centre = np.array([np.mean(valid_taps(n, r) == 1) for r in rates])
    mean = np.array([valid_taps(n, r).mean() for r in rates])
    # the numbers the card {#aspp} quotes
    assert [round(full[r - 1] * 100, 1) for r in (6, 12, 18)] == [40.5, 7.4, 0.0]
    assert round(mean[17], 2) == 3.64 and np.all(centre[rates >= n] == 1)
    ax = fig.subplots()
    ax.plot(rates, full, color=pal.c[0], lw=2.4, label="9 个都有效")
    ax.plot(rates, centre, color=pal.c[3], lw=2.4, ls="--", label="只剩中心")
    ax.plot(rates, mean / 9, color=pal.c[2], lw=2.2, ls="-.", label="平均有效比例")
    for r in (6, 12, 18):
        ax.axvline(r, color=pal.grid, lw=1, zorder=0)
        ax.text(r + 0.4, 1.02, f"r={r}", color=pal.muted)
    ax.set_xlim(1, 40)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("扩张率 r（特征图 33×33）")
    ax.set_ylabel("输出位置的比例")
    ax.grid(True, axis="y", color=pal.grid, lw=0.6)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=3, handlelength=1.6, columnspacing=1.0)


# ---------------------------------------------------------------- Dice vs IoU

@figure("dice-vs-iou", size=(6.4, 3.4))
def dice_vs_iou(fig, pal):
    j = np.linspace(0, 1, 201)
    d = 2 * j / (1 + j)
    assert np.all(d >= j - 1e-12) and d[0] == 0 and d[-1] == 1
    gap = d - j
    jmax = j[np.argmax(gap)]
    assert abs(jmax - (np.sqrt(2) - 1)) < 0.01            # largest gap at IoU = sqrt(2) - 1
    ax = fig.subplots()
    ax.plot(j, d, color=pal.c[0], lw=2.6, label="Dice = 2·IoU / (1 + IoU)")
    ax.plot(j, j, color=pal.muted, lw=1.4, ls="--", label="Dice = IoU")
    ax.plot([0.5], [2 / 3], "o", color=pal.c[1], ms=7)
    ax.annotate("IoU 0.5 → Dice 0.67", (0.5, 2 / 3), textcoords="offset points", xytext=(10, 8), color=pal.c[1], ha="right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("IoU")
    ax.set_ylabel("Dice")
    ax.grid(True, color=pal.grid, lw=0.6)
    ax.legend(loc="lower right")
