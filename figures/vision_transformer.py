"""Figures for content/vision-transformer.md (视觉 Transformer).

Everything is computed: costs from the layer sizes (the same formulas the cards' sympy blocks
assert), positional encodings from their definition, window layouts by assigning every patch
its window index.
"""
import functools

import numpy as np

from deckgen.figure_api import figure

# ---------------------------------------------------------------- cost model (multiply-adds)

def vit_block_macs(n, d=768, mlp=3072):
    """Multiply-adds of one ViT encoder block on n tokens, split by where they go.

    projections: Q, K, V and the output projection (4 n d^2);
    attention:   Q K^T and A V summed over heads (2 n^2 d);
    mlp:         two linear layers d -> mlp -> d (2 n d mlp).
    Softmax, LayerNorm, GELU and the residual adds are not multiply-adds and are left out."""
    return {"projections": 4 * n * d * d, "attention": 2 * n * n * d, "mlp": 2 * n * d * mlp}


def swin_costs(hw, c=96, m=7):
    """Swin paper, eq. (1)-(2): global MSA vs window MSA on an h x w map with C channels."""
    shared = 4 * hw * c * c
    return shared + 2 * hw * hw * c, shared + 2 * m * m * hw * c


# numbers the cards quote, asserted here as well as in the notes' sympy blocks
_B224 = vit_block_macs(197)
assert _B224 == {"projections": 464_781_312, "attention": 59_610_624, "mlp": 929_562_624}
assert round(_B224["attention"] / sum(_B224.values()), 3) == 0.041
assert swin_costs(56 * 56) == (2_003_828_736, 145_108_992)


# ---------------------------------------------------------------- global vs window attention

@figure("attention-cost-resolution", size=(6.4, 4.0))
def attention_cost_resolution(fig, pal):
    """Swin-T stage 1 (C = 96, 4x4 patches, M = 7): cost of one attention layer vs image side."""
    ax = fig.subplots()
    side = np.linspace(224, 1792, 200)
    hw = (side / 4) ** 2
    glob, win = swin_costs(hw)
    ax.plot(side, glob / 1e9, color=pal.c[3], label="全局 MSA")
    ax.plot(side, win / 1e9, color=pal.c[0], label="窗口 W-MSA（M = 7）")
    ax.plot(side, 4 * hw * 96 ** 2 / 1e9, color=pal.muted, ls="--", lw=1.4, label="两者共有的投影 $4hwC^2$")
    marks = np.array([224, 448, 896, 1792])
    g, w = swin_costs((marks / 4) ** 2)
    ax.plot(marks, g / 1e9, "o", color=pal.c[3], ms=6)
    ax.plot(marks, w / 1e9, "o", color=pal.c[0], ms=6)
    for s, gv, wv in zip(marks, g, w):
        if s in (224, 1792):
            ax.annotate(f"{gv / wv:.0f}×", (s, np.sqrt(gv * wv) / 1e9), ha="center", va="center",
                        color=pal.fg, xytext=(18 if s == 224 else -22, 0), textcoords="offset points")
            ax.plot([s, s], [wv / 1e9, gv / 1e9], color=pal.muted, lw=1, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(marks)
    ax.set_xticklabels([f"{s}" for s in marks])
    ax.minorticks_off()
    ax.set_xlabel("输入图像边长（像素）")
    ax.set_ylabel("一层注意力的乘加（G）")
    ax.grid(True, color=pal.grid, lw=0.6)
    ax.legend(loc="upper left")


# ---------------------------------------------------------------- where ViT-B/16 spends its MACs

@figure("vit-macs-split", size=(6.4, 3.4))
def vit_macs_split(fig, pal):
    ax = fig.subplots()
    sizes = (224, 384, 1024)
    parts = (("mlp", "MLP"), ("projections", "QKV + 输出投影"), ("attention", "注意力矩阵"))
    colors = (pal.c[2], pal.c[0], pal.c[3])
    for row, s in enumerate(sizes):
        n = (s // 16) ** 2 + 1
        macs = vit_block_macs(n)
        total = sum(macs.values())
        left = 0.0
        for (key, name), col in zip(parts, colors):
            share = macs[key] / total
            ax.barh(row, share * 100, left=left, color=col, height=0.62, label=name if row == 0 else None)
            if share > 0.08:
                ax.text(left + share * 50, row, f"{share:.0%}", ha="center", va="center", color=pal.bg)
            else:  # too narrow for its label: write it just right of the bar
                ax.text(101.5, row, f"{share:.0%}", ha="left", va="center", color=col)
            left += share * 100
    ax.set_yticks(range(len(sizes)))
    ax.set_yticklabels([f"{s}²\n{(s // 16) ** 2 + 1} token" for s in sizes])
    ax.invert_yaxis()
    ax.set_xlim(0, 111)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("一个编码器块的乘加占比（%）")
    ax.spines["left"].set_visible(False)
    ax.spines["bottom"].set_bounds(0, 100)
    ax.tick_params(axis="y", length=0)
    fig.legend(loc="outside upper center", ncol=3, frameon=False, handlelength=1.0, columnspacing=1.0)


# ---------------------------------------------------------------- sinusoidal positional encoding

def sinusoidal_pe(n_pos, d, base=10000.0):
    """PE[pos, 2i] = sin(pos / base^(2i/d)), PE[pos, 2i+1] = cos(pos / base^(2i/d))."""
    pos = np.arange(n_pos)[:, None]
    omega = base ** (-np.arange(0, d, 2) / d)
    pe = np.empty((n_pos, d))
    pe[:, 0::2] = np.sin(pos * omega)
    pe[:, 1::2] = np.cos(pos * omega)
    return pe


@functools.cache
def _pe_similarity(n_pos=100, d=64):
    pe = sinusoidal_pe(n_pos, d)
    sim = pe @ pe.T / (d / 2)          # each (sin, cos) pair has unit norm: PE(p).PE(p) = d/2
    # the dot product depends only on the offset p - q: compare rows shifted along the diagonal
    for k in (1, 7, 30):
        diag = np.diag(sim, k)
        assert np.allclose(diag, diag[0]) and np.allclose(np.diag(sim, -k), diag[0])
    return pe, sim


@figure("sinusoidal-pe", size=(6.4, 3.8))
def sinusoidal_pe_figure(fig, pal):
    from matplotlib.colors import LinearSegmentedColormap

    pe, sim = _pe_similarity()
    d = pe.shape[1]
    ax1, ax2 = fig.subplots(1, 2)
    cmap = LinearSegmentedColormap.from_list("pe", [pal.c[3], pal.bg, pal.c[0]])
    # shown as [all sin dims | all cos dims] so each half is one smooth family of waves
    shown = np.concatenate([pe[:, 0::2], pe[:, 1::2]], axis=1)
    ax1.imshow(shown, cmap=cmap, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax1.set_xticks([d // 4, 3 * d // 4])
    ax1.set_xticklabels(["sin 维", "cos 维"])
    ax1.tick_params(axis="x", length=0)
    ax1.axvline(d / 2 - 0.5, color=pal.fg, lw=1)
    ax1.set_ylabel("位置 pos")
    ax1.set_yticks([0, 50, 99])
    ax1.set_title("编码值")
    for p, col in ((10, pal.c[0]), (50, pal.c[1])):
        ax2.plot(np.arange(sim.shape[0]), sim[p], color=col, label=f"与位置 {p}")
    ax2.axhline(0, color=pal.muted, lw=0.8)
    ax2.set_xlabel("位置 q")
    ax2.set_xticks([0, 50, 99])
    ax2.set_ylim(-0.3, 1.05)
    ax2.set_yticks([0, 0.5, 1])
    ax2.set_title("归一化点积")
    ax2.grid(True, color=pal.grid, lw=0.6)
    ax2.legend(loc="lower center")


# ---------------------------------------------------------------- Swin: regular vs shifted windows

def window_ids(n, m, shift):
    """Window index of every patch of an n x n map split into m x m windows after shifting the
    partition by `shift` patches (no cyclic roll: the border windows are smaller)."""
    r = (np.arange(n) + (m - shift) % m) // m if shift else np.arange(n) // m
    return r[:, None] * (r.max() + 1) + r[None, :]


@figure("swin-shift", size=(6.4, 3.4))
def swin_shift(fig, pal):
    """8 x 8 patches, M = 4: 4 regular windows; shifted by M/2 = 2, 9 windows of unequal size."""
    from matplotlib.patches import Rectangle

    n, m = 8, 4
    axes = fig.subplots(1, 2)
    for ax, shift, title in zip(axes, (0, m // 2), ("第 l 层：规则窗口", "第 l+1 层：移位 M/2")):
        ids = window_ids(n, m, shift)
        uniq = np.unique(ids)
        assert len(uniq) == (4 if shift == 0 else 9)
        for k, w in enumerate(uniq):
            ys, xs = np.nonzero(ids == w)
            col = pal.c[k % 8]
            for y, x in zip(ys, xs):
                ax.add_patch(Rectangle((x, y), 1, 1, facecolor=col, alpha=0.35, edgecolor=pal.grid, lw=0.6))
            ax.add_patch(Rectangle((xs.min(), ys.min()), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1,
                                   fill=False, edgecolor=pal.fg, lw=2.2))
        ax.set_xlim(-0.1, n + 0.1)
        ax.set_ylim(n + 0.1, -0.1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)
        ax.set_title(title)
        ax.set_xlabel(f"{len(uniq)} 个窗口")
