"""Figures for the convolution deck (content/convolution.md).

Everything drawn here is computed: sampling grids from the dilation formula, receptive fields from
the layer recursion, transposed convolutions by actually running them, costs from the layer sizes.
"""
import numpy as np
from _cells import bare, draw_cells, two_tone
from _ops import conv_transpose2d
from matplotlib.patches import Rectangle

from deckgen.figure_api import figure

# ---------------------------------------------------------------- helpers (plain numpy)

def xcorr2d(x, k):
    """'valid' 2-D cross-correlation: what deep-learning frameworks call convolution."""
    win = np.lib.stride_tricks.sliding_window_view(x, k.shape)
    return np.einsum("ijkl,kl->ij", win, k)


def conv2d_true(x, k):
    """'valid' 2-D convolution in the mathematical sense: the kernel is flipped first."""
    return xcorr2d(x, k[::-1, ::-1])


def zero_insert_pad(x, s, k, p):
    """Insert s-1 zeros between pixels, then pad k-1-p zeros on every side."""
    ih, iw = x.shape
    z = np.zeros(((ih - 1) * s + 1, (iw - 1) * s + 1))
    z[::s, ::s] = x
    q = k - 1 - p
    return np.pad(z, q)


def receptive_fields(layers):
    """layers: list of (k, s, d). Returns receptive field after each layer (r0 = 1, jump j0 = 1)."""
    r, j, out = 1, 1, []
    for k, s, d in layers:
        r = r + (d * (k - 1)) * j
        j = j * s
        out.append(r)
    return out


def _grid(ax, n, pal):
    """An empty n x n pixel grid."""
    for t in range(n + 1):
        ax.plot([t - 0.5, t - 0.5], [-0.5, n - 0.5], color=pal.grid, lw=1, zorder=1)
        ax.plot([-0.5, n - 0.5], [t - 0.5, t - 0.5], color=pal.grid, lw=1, zorder=1)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(n - 0.4, -0.6)
    ax.set_aspect("equal")
    bare(ax)


def _rect(x, y, w, h, color, alpha, fill=True, lw=0):
    return Rectangle((x, y), w, h, facecolor=color if fill else "none", edgecolor=color,
                     alpha=alpha, lw=lw, zorder=2)


# ---------------------------------------------------------------- dilated convolution

@figure("dilated-conv-grid", size=(6.4, 2.9))
def dilated_conv_grid(fig, pal):
    """Sampling positions of a 3x3 kernel at dilation 1, 2, 3 on a 9x9 input."""
    n, k = 9, 3
    axes = fig.subplots(1, 3)
    c = n // 2
    for ax, d in zip(axes, (1, 2, 3)):
        _grid(ax, n, pal)
        keff = k + (k - 1) * (d - 1)
        h = keff // 2
        ax.add_patch(_rect(c - h - 0.5, c - h - 0.5, keff, keff, pal.c[1], 0.12))
        ax.add_patch(_rect(c - h - 0.5, c - h - 0.5, keff, keff, pal.c[1], 1, fill=False, lw=2))
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                ax.add_patch(_rect(c + a * d - 0.5, c + b * d - 0.5, 1, 1, pal.c[0], 0.9))
        ax.set_title(f"d={d}，{keff}×{keff}")


@figure("receptive-field-growth", size=(6.4, 3.8))
def receptive_field_growth(fig, pal):
    """Receptive field after L stacked 3x3 layers: plain, stride 2, dilation 2^(l-1)."""
    L = 6
    ls = np.arange(1, L + 1)
    plain = receptive_fields([(3, 1, 1)] * L)
    strided = receptive_fields([(3, 2, 1)] * L)
    dilated = receptive_fields([(3, 1, 2 ** l) for l in range(L)])
    assert plain == [2 * l + 1 for l in ls]
    assert strided == dilated == [2 ** (l + 1) - 1 for l in ls]
    ax = fig.subplots()
    ax.plot(ls, plain, "o-", color=pal.c[0], lw=2, label="普通，s=1")
    ax.plot(ls, strided, "s-", color=pal.c[1], lw=5, alpha=0.6, label="步长 s=2（尺寸减半）")
    ax.plot(ls, dilated, "^--", color=pal.c[2], lw=2, label="扩张 d=1,2,4,…")
    for l, r in zip(ls, dilated):
        ax.annotate(str(r), (l, r), textcoords="offset points", xytext=(-5, 5), ha="right",
                    color=pal.c[1], fontsize="small")
    for l, r in zip(ls, plain):
        ax.annotate(str(r), (l, r), textcoords="offset points", xytext=(4, -5), ha="left", va="top",
                    color=pal.c[0], fontsize="small")
    ax.set_yscale("log", base=2)
    ax.set_yticks([2, 8, 32, 128])
    ax.set_yticklabels(["2", "8", "32", "128"])
    ax.minorticks_off()
    ax.set_ylim(1.6, 400)
    ax.set_xlim(0.6, 6.4)
    ax.set_xlabel("堆叠层数 L")
    ax.set_ylabel("感受野 (px)")
    ax.grid(True)
    ax.legend(loc="upper left")


@figure("dilated-gridding", size=(6.4, 3.5))
def dilated_gridding(fig, pal):
    """Which input pixels reach one output after three 3x3 layers, dilations (2,2,2) vs (1,2,5)."""
    axes = fig.subplots(1, 2)
    for ax, ds in zip(axes, ((2, 2, 2), (1, 2, 5))):
        rf = 1 + sum(2 * d for d in ds)
        acc = np.ones((1, 1))
        for d in ds:
            ker = np.zeros((2 * d + 1, 2 * d + 1))
            ker[::d, ::d] = 1
            # full 2-D convolution of the path-count map with the dilated kernel
            out = np.zeros((acc.shape[0] + 2 * d, acc.shape[1] + 2 * d))
            for i in range(acc.shape[0]):
                for j in range(acc.shape[1]):
                    out[i:i + 2 * d + 1, j:j + 2 * d + 1] += acc[i, j] * ker
            acc = out
        assert acc.shape == (rf, rf)
        holes = np.mean(acc == 0)
        ax.imshow(acc > 0, cmap=two_tone(pal), vmin=0, vmax=1, interpolation="nearest")
        bare(ax)
        ax.set_title(f"d = {', '.join(map(str, ds))}\n{rf}×{rf}，{holes:.0%} 未用到")
        if ds == (2, 2, 2):
            assert (rf, f"{holes:.0%}") == (13, "71%")


# ---------------------------------------------------------------- transposed convolution

@figure("transposed-conv-steps", size=(6.4, 3.0))
def transposed_conv_steps(fig, pal):
    """i=3, k=3, s=2, p=1: zero-insertion + padding + stride-1 conv gives the 5x5 output."""
    x = np.arange(1, 10, dtype=float).reshape(3, 3)
    k = np.ones((3, 3))
    s, p = 2, 1
    z = zero_insert_pad(x, s, 3, p)
    via_zeros = xcorr2d(z, k[::-1, ::-1])
    direct = conv_transpose2d(x, k, s, p)
    assert np.allclose(via_zeros, direct)
    o = (3 - 1) * s - 2 * p + 3
    assert direct.shape == (o, o) == (5, 5)
    assert direct[1, 1] == 1 + 2 + 4 + 5 == 12
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 7, 5]})
    draw_cells(axes[0], x, pal, fmt="{:.0f}", size=(7, 3))
    axes[0].set_title("输入")
    # the 3x3 window that gives output (1, 1), and that output
    draw_cells(axes[1], z, pal, fmt="{:.0f}", boxes=[(1, 1, 3, 3)])
    axes[1].set_title("插零、补边")
    # two-digit numbers: one step smaller, so that neighbours stay apart
    draw_cells(axes[2], direct, pal, fmt="{:.0f}", boxes=[(1, 1, 1, 1)], size=(7, 5), fontsize="small")
    axes[2].set_title(f"输出 {o}×{o}")


@figure("transposed-conv-checkerboard", size=(6.4, 3.6))
def transposed_conv_checkerboard(fig, pal):
    """Overlap count of a stride-2 transposed conv on a 4x4 input: k=3 (uneven) vs k=4 (even)."""
    x = np.ones((4, 4))
    axes = fig.subplots(1, 2)
    for ax, kk in zip(axes, (3, 4)):
        out = conv_transpose2d(x, np.ones((kk, kk)), 2, 0)
        inner = out[kk:-kk, kk:-kk]
        vals = sorted(int(v) for v in set(inner.ravel()))
        assert vals == ([1, 2, 4] if kk == 3 else [4])
        draw_cells(ax, out, pal, fmt="{:.0f}", size=(10, 10), fontsize="small")
        ax.set_title(f"k={kk}，s=2")


# ---------------------------------------------------------------- convolution vs cross-correlation

@figure("conv-vs-xcorr", size=(6.4, 2.9))
def conv_vs_xcorr(fig, pal):
    """An impulse through cross-correlation returns the kernel rotated 180°, through convolution the kernel."""
    k = np.arange(1, 10, dtype=float).reshape(3, 3)
    x = np.zeros((5, 5))
    x[2, 2] = 1
    xc = xcorr2d(np.pad(x, 1), k)[1:-1, 1:-1]
    cv = conv2d_true(np.pad(x, 1), k)[1:-1, 1:-1]
    assert np.array_equal(xc, k[::-1, ::-1])
    assert np.array_equal(cv, k)
    axes = fig.subplots(1, 3)
    for ax, m, t in zip(axes, (k, xc, cv), ("核 K", "互相关\n（CNN 的卷积）", "真卷积")):
        draw_cells(ax, m, pal, fmt="{:.0f}", size=(3, 3.6))
        ax.set_title(t)


# ---------------------------------------------------------------- standard / group / depthwise

@figure("conv-connectivity", size=(6.4, 3.1))
def conv_connectivity(fig, pal):
    """Which input channel feeds which output channel (8 -> 8 channels)."""
    c, g = 8, 4
    full = np.ones((c, c))
    group = np.kron(np.eye(g), np.ones((c // g, c // g)))
    dw = np.eye(c)
    axes = fig.subplots(1, 4)
    titles = ("标准", f"分组 g={g}", "逐通道", "逐点 1×1")
    mats = (full, group, dw, full)
    ks = (9, 9, 9, 1)
    for ax, m, t, kk in zip(axes, mats, titles, ks):
        ax.imshow(m, cmap=two_tone(pal), vmin=0, vmax=1, interpolation="nearest")
        bare(ax)
        ax.set_title(t, fontsize="medium")
        ax.set_xlabel(f"{int(m.sum()) * kk} 个权重", fontsize="small")
    axes[0].set_ylabel("输出通道")


def conv_cost(k, cin, cout, h, w, groups=1):
    params = k * k * (cin // groups) * cout
    macs = params * h * w
    return params, macs


@figure("conv-cost", size=(6.4, 3.6))
def conv_cost_fig(fig, pal):
    """Parameters and multiply-adds of a real layer: ResNet-34 conv4_x, 3x3, 256->256 at 14x14."""
    k, c, h = 3, 256, 14
    std = conv_cost(k, c, c, h, h)
    grp = conv_cost(k, c, c, h, h, groups=32)
    dw = conv_cost(k, c, c, h, h, groups=c)
    pw = conv_cost(1, c, c, h, h)
    sep = (dw[0] + pw[0], dw[1] + pw[1])
    assert std == (589824, 115605504)
    assert sep == (67840, 13296640)
    assert grp == (18432, 3612672)
    names = ["标准", "分组 g=32", "逐通道\n+逐点"]
    vals = [std, grp, sep]
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y - 0.2, [v[0] / 1e3 for v in vals], height=0.38, color=pal.c[0], label="参数量 (K)")
    ax.barh(y + 0.2, [v[1] / 1e6 for v in vals], height=0.38, color=pal.c[1], label="乘加次数 (M)")
    for yi, v in zip(y, vals):
        ax.text(v[0] / 1e3 * 1.15, yi - 0.2, f"{v[0] / 1e3:.1f}K", va="center", color=pal.c[0],
                fontsize="small")
        ax.text(v[1] / 1e6 * 1.15, yi + 0.2, f"{v[1] / 1e6:.1f}M", va="center", color=pal.c[1],
                fontsize="small")
    ax.set_xscale("log")
    ax.set_xlim(1, 8000)
    ax.set_xticks([1, 10, 100, 1000])
    ax.set_xticklabels(["1", "10", "100", "1000"])
    ax.minorticks_off()
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.grid(True, axis="x")
    ax.set_axisbelow(True)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncol=2)


# ---------------------------------------------------------------- depthwise speed: roofline

PEAK = 15.7e12   # V100 SXM2 FP32 peak, FLOP/s
BW = 900e9       # V100 HBM2 bandwidth, byte/s


def layer_roofline(kind, c=128, h=56, k=3, bytes_per=4):
    """FLOPs (2 per MAC) and minimal DRAM traffic (read input + weights once, write output once)."""
    hw = h * h
    if kind == "standard":
        macs, wts = k * k * c * c * hw, k * k * c * c
    elif kind == "depthwise":
        macs, wts = k * k * c * hw, k * k * c
    else:  # pointwise
        macs, wts = c * c * hw, c * c
    flops = 2 * macs
    traffic = bytes_per * (2 * c * hw + wts)
    return flops, traffic


@figure("dw-roofline", size=(6.4, 4.9))
def dw_roofline(fig, pal):
    """Roofline of a V100-class GPU with three real layers (128 channels, 56x56, FP32)."""
    ax = fig.subplots()
    ai = np.logspace(-1, 3, 200)
    ax.plot(ai, np.minimum(PEAK, ai * BW) / 1e12, color=pal.fg, lw=2)
    ridge = PEAK / BW
    assert f"{ridge:.1f}" == "17.4"
    ax.plot([ridge, ridge], [0.08, PEAK / 1e12], color=pal.muted, ls=":", lw=1.2)  # up to the roof only
    ax.text(ridge * 1.12, 0.1, f"拐点 {ridge:.1f}", color=pal.muted, va="bottom")
    labels = {"standard": "标准 3×3", "depthwise": "逐通道 3×3", "pointwise": "逐点 1×1"}
    for i, kind in enumerate(("standard", "pointwise", "depthwise")):
        f, t = layer_roofline(kind)
        a = f / t
        perf = min(PEAK, a * BW)
        share = f"，至多 {perf / PEAK:.0%} 峰值" if perf < PEAK else ""
        num = f"{a:.1f}" if a < 100 else f"{a:.0f}"
        ax.plot([a], [perf / 1e12], "o", ms=10, color=pal.c[i], label=f"{labels[kind]}：{num}{share}")
        if kind == "depthwise":
            assert (f"{a:.1f}", f"{perf / PEAK:.0%}") == ("2.2", "13%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(0.1, 1000)
    ax.set_ylim(0.08, 40)
    ax.set_xticks([0.1, 1, 10, 100, 1000])
    ax.set_xticklabels(["0.1", "1", "10", "100", "1000"])
    ax.set_yticks([0.1, 1, 10])
    ax.set_yticklabels(["0.1", "1", "10"])
    ax.minorticks_off()
    ax.set_xlabel("算术强度 (FLOP/字节)")
    ax.set_ylabel("可达 TFLOP/s")
    ax.set_title("V100 FP32：15.7 TFLOP/s，900 GB/s")
    ax.grid(True, which="major")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=1,
               handletextpad=0.3)
