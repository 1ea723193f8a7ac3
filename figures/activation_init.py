"""Figures for the deck 激活函数与初始化 (content/activation-init.md).

Curves come from the functions themselves; the initialization figure runs a real forward pass
through a deep random MLP.
"""
import math
from functools import cache

import numpy as np
from _act import gelu, leaky_relu, relu, sigmoid, silu

from deckgen.figure_api import figure

ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "ReLU": relu,
    "Leaky ReLU (0.1)": leaky_relu,
    "GELU": gelu,
    "Swish / SiLU": silu,
}
STYLES = ["-", "-", "-", "--", "-", "--"]


def _axes(ax, pal):
    ax.grid(True)
    ax.axhline(0, color=pal.muted, linewidth=0.8)
    ax.axvline(0, color=pal.muted, linewidth=0.8)
    ax.set_xlabel("x")
    ax.set_xticks([-4, -2, 0, 2, 4])


def _legend(fig, ax):
    """Below the plot, where it cannot cover a curve: 3 columns of 2."""
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3,
               handlelength=1.5, columnspacing=1.0, handletextpad=0.5)


@figure("activation-curves", size=(6.4, 4.4))
def activation_curves(fig, pal):
    ax = fig.subplots()
    x = np.linspace(-4, 4, 801)
    for i, (name, f) in enumerate(ACTIVATIONS.items()):
        ax.plot(x, f(x), STYLES[i], color=pal.c[i], linewidth=2, label=name)
    ax.set_ylim(-1.3, 3.0)
    ax.set_ylabel("f(x)")
    _axes(ax, pal)
    _legend(fig, ax)


@figure("activation-derivatives", size=(6.4, 4.4))
def activation_derivatives(fig, pal):
    """Derivatives by central differences of the very functions plotted in activation-curves."""
    ax = fig.subplots()
    x = np.linspace(-4, 4, 800)  # even count: the grid avoids x = 0 exactly
    h = 1e-5
    for i, (name, f) in enumerate(ACTIVATIONS.items()):
        d = (f(x + h) - f(x - h)) / (2 * h)
        ax.plot(x, d, STYLES[i], color=pal.c[i], linewidth=2, label=name)
    peak = (sigmoid(h) - sigmoid(-h)) / (2 * h)
    assert f"{peak:.2f}" == "0.25"
    # the text sits in the empty band right of x = 1.5, between the small and the ~1 derivatives
    ax.annotate(f"sigmoid′ 最大 {peak:.2f}", xy=(0, peak), xytext=(1.3, 0.55), va="center",
                color=pal.fg, arrowprops=dict(arrowstyle="->", color=pal.fg))
    ax.set_ylim(-0.2, 1.25)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("f'(x)")
    _axes(ax, pal)
    _legend(fig, ax)


# (activation, initialisation, std of W for fan-in = fan-out = n, colour index, line style,
#  where the value at layer 20 is written: offset in points from the line's end, alignment)
INIT_RUNS = [
    ("tanh", "N(0, 0.01²)", lambda n: 0.01, 3, ":", (-4, -4), ("right", "top")),
    ("tanh", "N(0, 1)", lambda n: 1.0, 1, "--", (0, 4), ("right", "bottom")),
    ("tanh", "Xavier", lambda n: math.sqrt(2 / (n + n)), 0, "-", (0, -4), ("right", "top")),
    ("ReLU", "N(0, 0.01²)", lambda n: 0.01, 3, ":", (-4, -4), ("right", "top")),
    ("ReLU", "Xavier", lambda n: math.sqrt(2 / (n + n)), 0, "-", (0, -5), ("right", "top")),
    ("ReLU", "He", lambda n: math.sqrt(2 / n), 2, "-", (0, 4), ("right", "bottom")),
]


@cache
def forward_stats(depth=20, width=512, batch=256, seed=0):
    """Std of each layer's activations in a random MLP fed with standard-normal inputs, for every
    run of INIT_RUNS; and the share of last-layer units in tanh's flat tails (|h| > 0.99).

    Every run draws the same standard-normal matrices (one seeded generator per run, as
    rng.normal(0, std) is std times the standard draw), so they are drawn once and scaled."""
    rng = np.random.default_rng(seed)
    h0 = rng.normal(0, 1, (batch, width))
    Z = [rng.normal(0, 1, (width, width)) for _ in range(depth)]
    act = {"tanh": np.tanh, "ReLU": relu}
    out = []
    for a, _, std_fn, *_ in INIT_RUNS:
        std = std_fn(width)
        h = h0
        stds = [h.std()]
        for z in Z:
            h = act[a](h @ (std * z))
            stds.append(h.std())
        out.append((np.array(stds), (np.abs(h) > 0.99).mean()))
    return out


def _e(v):
    """1e-13, 8e-4 (no '+' or leading zeros in the exponent); 0.77 from 0.01 up."""
    if v >= 1e-2:
        return f"{v:.2f}"
    mant, exp = f"{v:.0e}".split("e")
    return f"{mant}e{int(exp)}"


@figure("init-activation-stats", size=(6.4, 4.4))
def init_activation_stats(fig, pal):
    stats = forward_stats()
    axes = fig.subplots(1, 2, sharey=True)
    handles = {}
    for act_name, ax in zip(("tanh", "ReLU"), axes):
        for (a, init, _, col, ls, off, (ha, va)), (s, sat) in zip(INIT_RUNS, stats):
            if a != act_name:
                continue
            (line,) = ax.semilogy(np.arange(len(s)), s, ls, color=pal.c[col], linewidth=2,
                                  marker="o", markersize=3)
            handles[init] = line
            # the std at layer 20, at the end of its line (the number the card quotes)
            text = _e(s[-1]) + (f"，{sat:.0%} 饱和" if a == "tanh" and sat > 0.1 else "")
            ax.annotate(text, (len(s) - 1, s[-1]), xytext=off, textcoords="offset points",
                        ha=ha, va=va, color=pal.c[col])
        ax.set_title(act_name)
        ax.set_xlabel("层")
        ax.set_xticks([0, 10, 20])
        ax.grid(True)
    axes[0].set_ylabel("激活的标准差")
    axes[0].set_ylim(1e-19, 1e3)
    axes[0].set_yticks([1, 1e-5, 1e-10, 1e-15])
    axes[0].minorticks_off()
    order = ("N(0, 0.01²)", "N(0, 1)", "Xavier", "He")
    fig.legend([handles[k] for k in order], order, loc="outside lower center", ncol=4,
               handlelength=1.5, columnspacing=1.0, handletextpad=0.5)
    quoted = {(a, init): (_e(s[-1]), f"{sat:.0%}") for (a, init, *_), (s, sat) in zip(INIT_RUNS, stats)}
    assert quoted[("tanh", "N(0, 0.01²)")][0] == "1e-13" and quoted[("tanh", "N(0, 1)")] == ("0.98", "91%")
    assert quoted[("ReLU", "Xavier")][0] == "8e-4" and quoted[("ReLU", "He")][0] == "0.77"
