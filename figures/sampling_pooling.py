"""Figures for the sampling & pooling deck (content/sampling-pooling.md).

All computed with numpy: the interpolations and the transposed convolutions are run on a small
synthetic image, pooling gradients come from the definition (checked by finite differences), and the
max-vs-average comparison is a small seeded experiment.
"""
from functools import cache

import numpy as np
from _cells import draw_cells
from _ops import conv_transpose2d

from deckgen.figure_api import figure

# ---------------------------------------------------------------- interpolation kernels

def _src_coords(n_out, scale):
    """Half-pixel convention (align_corners=False): output pixel centre -> input coordinate."""
    return (np.arange(n_out) + 0.5) / scale - 0.5


def _resize_1d(x, scale, kernel, support, axis):
    """Separable resize of `x` along `axis` with a 1-D interpolation kernel, edge pixels replicated."""
    x = np.moveaxis(x, axis, 0)
    n_in = x.shape[0]
    n_out = n_in * scale
    src = _src_coords(n_out, scale)
    out = np.zeros((n_out,) + x.shape[1:])
    base = np.floor(src).astype(int)
    for off in range(-support + 1, support + 1):
        idx = base + off
        wgt = kernel(src - idx)
        out += wgt[:, None] * x[np.clip(idx, 0, n_in - 1)]
    return np.moveaxis(out, 0, axis)


def nearest_k(t):
    return ((t > -0.5) & (t <= 0.5)).astype(float)


def linear_k(t):
    return np.maximum(0.0, 1 - np.abs(t))


def cubic_k(t, a=-0.5):
    """Keys' cubic convolution kernel (a = -0.5), the usual 'bicubic'."""
    t = np.abs(t)
    return np.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                    np.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a, 0.0))


def resize(img, scale, kind):
    kern, sup = {"nearest": (nearest_k, 1), "bilinear": (linear_k, 1), "bicubic": (cubic_k, 2)}[kind]
    return _resize_1d(_resize_1d(img, scale, kern, sup, 0), scale, kern, sup, 1)


def bilinear_kernel(factor):
    """FCN's bilinear initialisation for a stride-`factor` transposed convolution."""
    size = 2 * factor - factor % 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.arange(size)
    f = 1 - np.abs(og - center) / factor
    return np.outer(f, f)


def small_image():
    """8x8 synthetic test image: a bright blob, a hard vertical edge and a single bright pixel."""
    yy, xx = np.mgrid[0:8, 0:8]
    img = 0.9 * np.exp(-((yy - 2.5) ** 2 + (xx - 2.5) ** 2) / 3.0)
    img[:, 6:] = 0.8
    img[6, 2] = 1.0
    return img


def _cmap(pal):
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("ink", [pal.bg, pal.c[0], pal.fg])


@figure("upsampling-methods", size=(6.4, 4.8))
def upsampling_methods(fig, pal):
    """The same 8x8 image upsampled 4x by five methods."""
    img = small_image()
    s = 4
    near = resize(img, s, "nearest")
    bil = resize(img, s, "bilinear")
    bic = resize(img, s, "bicubic")
    kb = bilinear_kernel(s)
    tc_bil = conv_transpose2d(img, kb, s, p=(kb.shape[0] - s) // 2)
    assert tc_bil.shape == (32, 32)
    # away from the border the bilinear-initialised transposed conv IS bilinear interpolation
    assert np.allclose(tc_bil[4:-4, 4:-4], bil[4:-4, 4:-4])
    # bicubic's negative lobes overshoot at the hard edge (ringing); bilinear never leaves the input range
    assert bic.min() < img.min() - 0.05
    assert bil.max() <= img.max() + 1e-12 and bil.min() >= img.min() - 1e-12
    rk = np.random.default_rng(0).uniform(0, 1, (kb.shape[0], kb.shape[0]))
    rk *= kb.sum() / rk.sum()
    tc_rand = conv_transpose2d(img, rk, s, p=(kb.shape[0] - s) // 2)
    panels = [(img, "输入 8×8"), (near, "最近邻"), (bil, "双线性"), (bic, "双三次"),
              (tc_bil, "转置卷积\n双线性核"), (tc_rand, "转置卷积\n随机核")]
    axes = fig.subplots(2, 3)
    for ax, (m, t) in zip(axes.ravel(), panels):
        ax.imshow(np.clip(m, 0, 1), cmap=_cmap(pal), vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(t)
        ax.set_xticks([])
        ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_color(pal.muted)


# ---------------------------------------------------------------- pooling forward / backward

def pool_forward_backward(x, g, kind, k=2):
    """Non-overlapping k x k pooling: forward output and gradient w.r.t. the input."""
    h, w = x.shape[0] // k, x.shape[1] // k
    y = np.zeros((h, w))
    dx = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            win = x[i * k:(i + 1) * k, j * k:(j + 1) * k]
            if kind == "max":
                a, b = np.unravel_index(np.argmax(win), win.shape)
                y[i, j] = win[a, b]
                dx[i * k + a, j * k + b] += g[i, j]
            else:
                y[i, j] = win.mean()
                dx[i * k:(i + 1) * k, j * k:(j + 1) * k] += g[i, j] / (k * k)
    return y, dx


def _numeric_grad(x, g, kind, eps=1e-6):
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xp[idx] += eps
        xm = x.copy()
        xm[idx] -= eps
        num[idx] = (np.sum(pool_forward_backward(xp, g, kind)[0] * g)
                    - np.sum(pool_forward_backward(xm, g, kind)[0] * g)) / (2 * eps)
    return num


POOL_X = np.array([[1, 3, 2, 0],
                   [5, 2, 1, 4],
                   [0, 1, 7, 2],
                   [2, 6, 3, 1]], dtype=float)
POOL_G = np.array([[0.4, 0.8],
                   [1.2, 2.0]])


def _mat(ax, m, pal, title, fmt, mark=None):
    """A 4x4 map with its 2x2 pooling windows, or a 2x2 map (in cells a third larger, room for
    numbers like 2.75)."""
    draw_cells(ax, m, pal, fmt=fmt, shade=False, mark=mark, mark_color=pal.c[3], block=2,
               size=(4, 4) if m.shape[0] == 4 else (3, 3))
    ax.set_title(title, fontsize="medium")


def _num(digits):
    """A cell's number with `digits` decimals; a zero is just 0, so the routed gradients stand out."""
    return lambda v: "0" if v == 0 else f"{v:.{digits}f}"


@figure("pooling-backprop", size=(6.4, 5.0))
def pooling_backprop(fig, pal):
    """2x2/stride-2 max and average pooling on a 4x4 input: forward values and backward routing."""
    ymax, dmax = pool_forward_backward(POOL_X, POOL_G, "max")
    yavg, davg = pool_forward_backward(POOL_X, POOL_G, "avg")
    assert np.allclose(dmax, _numeric_grad(POOL_X, POOL_G, "max"), atol=1e-6)
    assert np.allclose(davg, _numeric_grad(POOL_X, POOL_G, "avg"), atol=1e-6)
    assert ymax.tolist() == [[5, 4], [6, 7]]
    assert yavg.tolist() == [[2.75, 1.75], [2.25, 3.25]]
    axes = fig.subplots(2, 3)
    _mat(axes[0, 0], POOL_X, pal, "输入 x", _num(0), mark=dmax != 0)
    _mat(axes[0, 1], ymax, pal, "最大池化", _num(0))
    _mat(axes[0, 2], yavg, pal, "平均池化", _num(2))
    _mat(axes[1, 0], POOL_G, pal, "上游梯度", _num(1))
    _mat(axes[1, 1], dmax, pal, "梯度（最大）", _num(1), mark=dmax != 0)
    _mat(axes[1, 2], davg, pal, "梯度（平均）", _num(1))
    assert np.allclose(davg, np.round(davg, 1))  # one decimal shows the values exactly


# ---------------------------------------------------------------- max vs average: experiment

def _auc(pos, neg):
    """Area under the ROC curve (Mann-Whitney U / n_pos n_neg)."""
    allv = np.concatenate([pos, neg])
    ranks = allv.argsort().argsort() + 1
    return (ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


@cache
def pooling_experiment(n=2000, w=16, seed=0):
    """Detect a pattern in a 4x4 (16-pixel) ReLU feature window from the pooled value.

    sparse: positives have ONE strongly activated pixel (+3) at a random place;
    dense:  positives have ALL pixels shifted up a little (+0.5) before the ReLU.
    Returns {task: (auc_max, auc_avg)}.
    """
    rng = np.random.default_rng(seed)
    res = {}
    for task in ("sparse", "dense"):
        neg = np.maximum(rng.normal(size=(n, w)), 0)
        z = rng.normal(size=(n, w))
        if task == "sparse":
            z[np.arange(n), rng.integers(0, w, n)] += 3.0
        else:
            z += 0.5
        pos = np.maximum(z, 0)
        res[task] = (_auc(pos.max(1), neg.max(1)), _auc(pos.mean(1), neg.mean(1)))
    return res


@figure("max-vs-avg-experiment", size=(6.4, 3.6))
def max_vs_avg_experiment(fig, pal):
    res = pooling_experiment()
    assert [f"{v:.2f}" for v in (*res["sparse"], *res["dense"])] == ["0.90", "0.78", "0.75", "0.91"]
    ax = fig.subplots()
    x = np.arange(2)
    for i, (lab, col) in enumerate((("最大池化", pal.c[1]), ("平均池化", pal.c[0]))):
        vals = [res["sparse"][i], res["dense"][i]]
        ax.bar(x + (i - 0.5) * 0.38, vals, width=0.36, color=col, label=lab)
        for xi, v in zip(x, vals):
            ax.text(xi + (i - 0.5) * 0.38, v + 0.01, f"{v:.2f}", ha="center", va="bottom", color=pal.fg)
    ax.set_xticks(x)
    ax.set_xticklabels(["稀疏：1 个强像素", "密集：全部 +0.5"])
    ax.set_ylim(0.5, 1.05)
    ax.set_yticks([0.5, 0.75, 1])
    ax.set_ylabel("AUC")
    ax.grid(True, axis="y")
    ax.set_axisbelow(True)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncol=2)
