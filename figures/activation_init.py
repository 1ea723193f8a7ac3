"""Figures for the deck 激活函数与初始化 (content/activation-init.md).

Curves come from the functions themselves; the initialization figure runs a real forward pass
through a deep random MLP.
"""
import math

import numpy as np

from deckgen.figure_api import figure

_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _gelu(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


ACTIVATIONS = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "ReLU": lambda x: np.maximum(x, 0),
    "Leaky ReLU (0.1)": lambda x: np.where(x > 0, x, 0.1 * x),
    "GELU": _gelu,
    "Swish / SiLU": lambda x: x * _sigmoid(x),
}


def _style(ax, pal):
    ax.grid(True, color=pal.grid, linewidth=0.6)
    ax.axhline(0, color=pal.muted, linewidth=0.8)
    ax.axvline(0, color=pal.muted, linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


@figure("activation-curves", size=(6.4, 4.0))
def activation_curves(fig, pal):
    ax = fig.subplots()
    x = np.linspace(-4, 4, 801)
    styles = ["-", "-", "-", "--", "-", "--"]
    for i, (name, f) in enumerate(ACTIVATIONS.items()):
        ax.plot(x, f(x), styles[i], color=pal.c[i], linewidth=2, label=name)
    ax.set_ylim(-1.3, 3.0)
    ax.set_xlabel("x")
    ax.set_title("激活函数 f(x)")
    ax.legend(loc="upper left", framealpha=0.9)
    _style(ax, pal)


@figure("activation-derivatives", size=(6.4, 4.0))
def activation_derivatives(fig, pal):
    """Derivatives by central differences of the very functions plotted in activation-curves."""
    ax = fig.subplots()
    x = np.linspace(-4, 4, 800)  # even count: the grid avoids x = 0 exactly
    h = 1e-5
    styles = ["-", "-", "-", "--", "-", "--"]
    for i, (name, f) in enumerate(ACTIVATIONS.items()):
        d = (f(x + h) - f(x - h)) / (2 * h)
        ax.plot(x, d, styles[i], color=pal.c[i], linewidth=2, label=name)
    peak = ((_sigmoid(h) - _sigmoid(-h)) / (2 * h))
    # the text sits in the empty band right of x = 1.5, between the small and the ~1 derivatives
    ax.annotate(f"sigmoid′ 最大 {peak:.2f}", xy=(0, peak), xytext=(1.6, 0.55), va="center",
                color=pal.fg, arrowprops=dict(arrowstyle="->", color=pal.fg))
    ax.set_ylim(-0.2, 1.25)
    ax.set_xlabel("x")
    ax.set_title("导数 f'(x)")
    ax.legend(loc="upper left", framealpha=0.9)
    _style(ax, pal)


def _forward_stats(act, std_fn, depth=20, width=512, batch=256, seed=0):
    """Std of each layer's activations in a random MLP fed with standard-normal inputs."""
    rng = np.random.default_rng(seed)
    h = rng.normal(0, 1, (batch, width))
    stds = [h.std()]
    for _ in range(depth):
        W = rng.normal(0, std_fn(width, width), (width, width))
        h = act(h @ W)
        stds.append(h.std())
    saturated = (np.abs(h) > 0.99).mean()  # share of last-layer units in tanh's flat tails
    return np.array(stds), saturated


@figure("init-activation-stats", size=(6.4, 4.2))
def init_activation_stats(fig, pal):
    relu = lambda z: np.maximum(z, 0)
    runs = [
        ("tanh", "N(0, 0.01²)", np.tanh, lambda i, o: 0.01, pal.c[3], ":"),
        ("tanh", "N(0, 1)", np.tanh, lambda i, o: 1.0, pal.c[1], "--"),
        ("tanh", "Xavier", np.tanh, lambda i, o: math.sqrt(2 / (i + o)), pal.c[0], "-"),
        ("ReLU", "N(0, 0.01²)", relu, lambda i, o: 0.01, pal.c[3], ":"),
        ("ReLU", "Xavier", relu, lambda i, o: math.sqrt(2 / (i + o)), pal.c[0], "-"),
        ("ReLU", "He", relu, lambda i, o: math.sqrt(2 / i), pal.c[2], "-"),
    ]
    axes = fig.subplots(1, 2, sharey=True)
    for act_name, ax in zip(("tanh", "ReLU"), axes):
        for a, init, f, std_fn, col, ls in runs:
            if a != act_name:
                continue
            s, sat = _forward_stats(f, std_fn)
            label = f"{init}: {s[-1]:.0e}" if s[-1] < 1e-2 else f"{init}: {s[-1]:.2f}"
            if a == "tanh" and sat > 0.1:
                label += f"\n（{sat:.0%} 饱和）"
            ax.semilogy(np.arange(len(s)), s, ls, color=col, linewidth=2, marker="o", markersize=3,
                        label=label)
        ax.set_title(act_name)
        ax.set_xlabel("层")
        ax.legend(loc="lower left", title="第 20 层 std", handlelength=1.6, borderaxespad=0.2)
        ax.grid(True, color=pal.grid, linewidth=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0].set_ylabel("各层激活的标准差")
    axes[0].set_ylim(1e-18, 10)
