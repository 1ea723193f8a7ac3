"""Figures for content/deployment.md (部署与推理优化).

Everything is computed: INT8 quantisation actually applied to seeded synthetic weights and
activations, and roofline time bounds from each operator's FLOPs and minimal memory traffic.
"""
import functools

import numpy as np

from deckgen.figure_api import figure

# ---------------------------------------------------------------- symmetric INT8

def quant_sym(x, scale, qmax=127):
    """Symmetric quantise-dequantise: s * clip(round(x / s), -qmax, qmax)."""
    return scale * np.clip(np.round(x / scale), -qmax, qmax)


def sqnr_db(x, xq):
    """Signal-to-quantisation-noise ratio in dB."""
    return 10 * np.log10(np.sum(x ** 2) / np.sum((x - xq) ** 2))


@functools.cache
def per_channel_experiment(seed=0, channels=64, fan_in=576):
    """A conv layer's weights (64 output channels, 3x3x64 inputs each) whose per-channel ranges
    span 100x, as after folding BN into the convolution."""
    rng = np.random.default_rng(seed)
    stds = 10 ** rng.uniform(-2, 0, channels)            # 0.01 ... 1
    w = rng.normal(size=(channels, fan_in)) * stds[:, None]
    s_tensor = np.abs(w).max() / 127
    s_chan = np.abs(w).max(axis=1, keepdims=True) / 127
    wt, wc = quant_sym(w, s_tensor), quant_sym(w, s_chan)
    rng_c = np.abs(w).max(axis=1)
    snr_t = np.array([sqnr_db(w[o], wt[o]) for o in range(channels)])
    snr_c = np.array([sqnr_db(w[o], wc[o]) for o in range(channels)])
    levels_small = int(np.unique(np.round(w[np.argmin(rng_c)] / s_tensor)).size)
    return rng_c, snr_t, snr_c, levels_small


_pc = per_channel_experiment()
assert round(_pc[1].min()) == 3 and round(_pc[2].min()) == 40 and round(_pc[2].max()) == 45, (
    _pc[1].min(), _pc[2].min(), _pc[2].max())
assert _pc[3] == 3, _pc[3]           # the smallest channel uses only 3 integer levels per-tensor


@figure("int8-per-channel", size=(6.4, 3.8))
def int8_per_channel(fig, pal):
    rng_c, snr_t, snr_c, _ = per_channel_experiment()
    ax = fig.subplots()
    ax.plot(rng_c, snr_c, "o", color=pal.c[0], ms=6, label="按通道（per-channel）")
    ax.plot(rng_c, snr_t, "s", color=pal.c[3], ms=5, label="按张量（per-tensor）")
    ax.set_xscale("log")
    ax.set_xlabel("该输出通道权重的最大绝对值")
    ax.set_ylabel("信噪比 SQNR（dB）")
    ax.set_ylim(0, 50)
    ax.grid(True, color=pal.grid, lw=0.6)
    ax.legend(loc="lower right")


# ---------------------------------------------------------------- calibration: where to clip

@functools.cache
def clip_experiment(seed=0, n=100_000):
    """Heavy-tailed activations (Laplace, b = 1): MSE of symmetric quantisation as a function of
    the clipping threshold alpha, for INT8 and INT4. Returns {bits: (alphas, mse, best)}, max."""
    rng = np.random.default_rng(seed)
    x = rng.laplace(0, 1, n)
    amax = float(np.abs(x).max())
    alphas = np.linspace(0.5, amax, 300)
    res = {}
    for bits in (8, 4):
        qmax = 2 ** (bits - 1) - 1
        mse = np.array([np.mean((x - quant_sym(x, a / qmax, qmax)) ** 2) for a in alphas])
        res[bits] = (alphas, mse, float(alphas[np.argmin(mse)]))
    return res, amax


_cl, _amax = clip_experiment()
assert round(_amax, 1) == 11.9
assert round(_cl[8][2], 1) == 10.1 and round(_cl[4][2], 1) == 4.8, (_cl[8][2], _cl[4][2])
# MSE at the optimum relative to clipping at the maximum: 19 % lower for INT8, 75 % for INT4
assert [round(1 - _cl[b][1].min() / _cl[b][1][-1], 2) for b in (8, 4)] == [0.19, 0.75]


@figure("int8-clip-mse", size=(6.4, 3.8))
def int8_clip_mse(fig, pal):
    res, amax = clip_experiment()
    ax = fig.subplots()
    for bits, col in ((8, pal.c[0]), (4, pal.c[1])):
        alphas, mse, best = res[bits]
        ax.plot(alphas, mse, color=col, label=f"INT{bits}")
        ax.plot(best, mse.min(), "o", color=col, ms=8)
        ax.annotate(f"最优 {best:.1f}", (best, mse.min()), xytext=(0, -10), textcoords="offset points",
                    ha="center", va="top", color=col)
    ax.axvline(amax, color=pal.muted, lw=1.4, ls="--")
    ax.text(amax - 0.2, 3e-5, f"max = {amax:.1f}", ha="right", va="center", color=pal.muted)
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 3)
    ax.set_xlabel("截断阈值 α（拉普拉斯分布，b = 1）")
    ax.set_ylabel("量化 MSE")
    ax.grid(True, color=pal.grid, lw=0.6)
    ax.legend(loc="lower left")


# ---------------------------------------------------------------- roofline: time vs FLOPs

PEAK = 15.7e12   # V100 SXM2 FP32 peak, FLOP/s (NVIDIA V100 datasheet)
BW = 900e9       # V100 HBM2 bandwidth, byte/s


def ops_table(b=4):
    """(name, FLOPs, minimal DRAM bytes) for operators of ViT-B/16 at 224 (197 tokens, one layer,
    batch 1) and of a 128-channel 56x56 CNN layer. Element-wise FLOPs are rough per-element
    counts; the memory-bound time does not depend on them."""
    n, d, m, h = 197, 768, 3072, 12
    c, hw = 128, 56 * 56
    return [
        ("MLP 矩阵乘 768→3072", 2 * n * d * m, b * (n * d + d * m + n * m)),
        ("QKᵀ（12 头）", 2 * h * n * n * (d // h), b * (2 * n * d + h * n * n)),
        ("softmax", 5 * h * n * n, b * 2 * h * n * n),
        ("LayerNorm", 8 * n * d, b * 2 * n * d),
        ("GELU", 8 * n * m, b * 2 * n * m),
        ("3×3 卷积", 2 * 9 * c * c * hw, b * (2 * c * hw + 9 * c * c)),
        ("3×3 逐通道", 2 * 9 * c * hw, b * (2 * c * hw + 9 * c)),
        ("1×1 逐点", 2 * c * c * hw, b * (2 * c * hw + c * c)),
    ]


def roofline_time(flops, traffic):
    return max(flops / PEAK, traffic / BW)


_ops = {name: (f, t, roofline_time(f, t)) for name, f, t in ops_table()}
_gelu, _qk = _ops["GELU"], _ops["QKᵀ（12 头）"]
_dw, _pw = _ops["3×3 逐通道"], _ops["1×1 逐点"]
assert round(_gelu[0] / _qk[0], 2) == 0.08 and round(_gelu[2] / _qk[2], 1) == 1.4
assert round(_dw[0] / _pw[0], 2) == 0.07 and round(_dw[2] / _pw[2], 2) == 0.55


@figure("latency-vs-flops", size=(6.4, 4.4))
def latency_vs_flops(fig, pal):
    """Per operator: the time its FLOPs alone would take at peak (hollow) and the roofline lower
    bound (filled); a long bar means memory traffic, not arithmetic, sets the time."""
    ax = fig.subplots()
    labels = {"QKᵀ（12 头）": "$QK^T$（12 头）", "MLP 矩阵乘 768→3072": "MLP 矩阵乘"}
    rows = sorted(_ops.items(), key=lambda kv: -kv[1][0])
    for i, (name, (fl, tr, t)) in enumerate(rows):
        t_flops = fl / PEAK * 1e6
        mem = tr / BW > fl / PEAK
        col = pal.c[3] if mem else pal.c[0]
        ax.plot([t_flops, t * 1e6], [i, i], color=col, lw=2.4, solid_capstyle="butt")
        ax.plot(t_flops, i, "o", ms=8, mfc="none", mec=col, mew=1.8)
        ax.plot(t * 1e6, i, "o", ms=8, color=col)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([labels.get(n, n) for n, _ in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(0.05, 200)
    ax.set_xlabel("时间（µs，对数）")
    ax.grid(True, axis="x", color=pal.grid, lw=0.6)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker="o", ls="none", mfc="none", mec=pal.fg, ms=8, mew=1.6, label="只按 FLOPs"),
               Line2D([], [], marker="o", ls="none", color=pal.fg, ms=8, label="屋顶线下限"),
               Line2D([], [], color=pal.c[3], lw=2.4, label="受带宽限制")]
    fig.legend(handles=handles, loc="outside upper center", ncol=3, frameon=False, handlelength=1.2,
               columnspacing=1.0)
