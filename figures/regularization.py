"""Figures for content/regularization.md (正则化与泛化).

Every figure is computed from a small, seeded experiment on synthetic data.
"""
from functools import cache

import numpy as np

from deckgen.figure_api import figure


# ---------------------------------------------------------------- fitting regimes
def _poly_data(seed=1, n=15, n_val=200, noise=0.25):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, n))
    y = np.sin(2 * np.pi * x) + rng.normal(0, noise, n)
    xv = rng.uniform(x.min(), x.max(), n_val)   # validate inside the training range
    yv = np.sin(2 * np.pi * xv) + rng.normal(0, noise, n_val)
    return x, y, xv, yv


@figure("fit-regimes", size=(6.4, 3.6))
def fit_regimes(fig, pal):
    """Polynomial fits of degree 1 / 3 / 9 to the same 15 noisy points."""
    x, y, xv, yv = _poly_data()
    grid = np.linspace(0, 1, 400)
    axes = fig.subplots(1, 3, sharey=True)
    for ax, deg, name in zip(axes, (1, 3, 9), ("欠拟合", "合适", "过拟合")):
        p = np.polynomial.Polynomial.fit(x, y, deg)
        mse_tr = np.mean((p(x) - y) ** 2)
        mse_va = np.mean((p(xv) - yv) ** 2)
        ax.plot(grid, np.sin(2 * np.pi * grid), color=pal.muted, lw=1.2, ls="--")
        ax.plot(grid, p(grid), color=pal.c[0], lw=2)
        ax.scatter(x, y, s=18, color=pal.c[1], zorder=3)
        ax.set_ylim(-1.8, 1.8)
        ax.set_xticks([])
        ax.set_title(f"{deg} 次：{name}")
        # train / validation MSE under the axes: the degree-9 curve leaves no free corner inside
        ax.set_xlabel(f"训练 {mse_tr:.2f}\n验证 {mse_va:.2f}")
    axes[0].set_yticks([-1, 0, 1])


# ---------------------------------------------------------------- early stopping
@cache
def _train_mlp_curves(seed=2, steps=3000, lr=0.005, hidden=64, every=10):
    """Full-batch Adam on a 1-64-1 tanh MLP, 16 noisy points of sin(3x)."""
    rng = np.random.default_rng(seed)
    n = 16
    x = np.sort(rng.uniform(-1, 1, n))
    y = np.sin(3 * x) + rng.normal(0, 0.3, n)
    xv = rng.uniform(-1, 1, 200)
    yv = np.sin(3 * xv) + rng.normal(0, 0.3, 200)
    W1 = rng.normal(0, 4, (1, hidden))
    b1 = rng.normal(0, 2, hidden)
    W2 = rng.normal(0, 1 / np.sqrt(hidden), (hidden, 1))
    b2 = np.zeros(1)
    params = [W1, b1, W2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2 = 0.9, 0.999

    def fwd(inp):
        h = np.tanh(inp[:, None] @ W1 + b1)
        return h, (h @ W2 + b2)[:, 0]

    rec_step, rec_tr, rec_va = [], [], []
    for t in range(1, steps + 1):
        h, out = fwd(x)
        e = out - y
        if t % every == 1:
            rec_step.append(t)
            rec_tr.append(np.mean(e ** 2))
            rec_va.append(np.mean((fwd(xv)[1] - yv) ** 2))
        g_out = 2 * e[:, None] / n
        gh = g_out @ W2.T * (1 - h ** 2)
        grads = [x[:, None].T @ gh, gh.sum(0), h.T @ g_out, g_out.sum(0)]
        for i, (p, g) in enumerate(zip(params, grads)):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            p -= lr * (m[i] / (1 - beta1 ** t)) / (np.sqrt(v[i] / (1 - beta2 ** t)) + 1e-8)
    return np.array(rec_step), np.array(rec_tr), np.array(rec_va)


@figure("early-stopping", size=(6.4, 3.6))
def early_stopping(fig, pal):
    steps, tr, va = _train_mlp_curves()
    k = int(np.argmin(va))
    ax = fig.subplots()
    ax.plot(steps, tr, color=pal.c[0], lw=2, label="训练损失")
    ax.plot(steps, va, color=pal.c[1], lw=2, label="验证损失")
    ax.axvline(steps[k], color=pal.muted, ls="--", lw=1.2)
    ax.scatter([steps[k]], [va[k]], color=pal.c[3], zorder=4, s=40)
    ax.annotate("早停（验证最优）", (steps[k], va[k]), xytext=(steps[k] + 250, va[k] + 0.12),
                color=pal.fg, va="bottom", arrowprops=dict(arrowstyle="->", color=pal.fg))
    ax.set_ylim(0, 0.5)
    ax.set_xlabel("训练步数")
    ax.set_ylabel("MSE")
    ax.grid(True, color=pal.grid)
    ax.legend(loc="upper right", frameon=False)


# ---------------------------------------------------------------- L1 vs L2 geometry
_C = np.array([1.6, 0.55])                 # unconstrained optimum
_A = np.array([[1.0, 0.45], [0.45, 0.8]])  # loss curvature


def _quad(w1, w2):
    d1, d2 = w1 - _C[0], w2 - _C[1]
    return _A[0, 0] * d1 * d1 + 2 * _A[0, 1] * d1 * d2 + _A[1, 1] * d2 * d2


def _constrained_opt(kind):
    th = np.linspace(0, 2 * np.pi, 200001)
    if kind == "l2":
        w1, w2 = np.cos(th), np.sin(th)
    else:  # L1 ball |w1|+|w2| = 1, parametrised by the same angle
        c, s = np.cos(th), np.sin(th)
        r = 1 / (np.abs(c) + np.abs(s))
        w1, w2 = r * c, r * s
    i = int(np.argmin(_quad(w1, w2)))
    return w1[i], w2[i]


@figure("l1-l2-geometry", size=(6.4, 3.5))
def l1_l2_geometry(fig, pal):
    g = np.linspace(-1.6, 2.6, 300)
    W1, W2 = np.meshgrid(g, g)
    Z = _quad(W1, W2)
    axes = fig.subplots(1, 2)
    for ax, kind, title in zip(axes, ("l1", "l2"), ("L1: $|w_1|+|w_2|\\leq 1$", "L2: $w_1^2+w_2^2\\leq 1$")):
        if kind == "l1":
            ball = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 0]])
            ax.fill(ball[:, 0], ball[:, 1], color=pal.c[0], alpha=0.25, lw=0)
            ax.plot(ball[:, 0], ball[:, 1], color=pal.c[0], lw=2)
        else:
            t = np.linspace(0, 2 * np.pi, 200)
            ax.fill(np.cos(t), np.sin(t), color=pal.c[0], alpha=0.25, lw=0)
            ax.plot(np.cos(t), np.sin(t), color=pal.c[0], lw=2)
        w = _constrained_opt(kind)
        level = _quad(*w)
        ax.contour(W1, W2, Z, levels=[0.05, 0.2, 0.45], colors=[pal.muted], linewidths=0.9)
        ax.contour(W1, W2, Z, levels=[level], colors=[pal.c[1]], linewidths=2)
        ax.scatter([_C[0]], [_C[1]], color=pal.fg, s=20, zorder=4)
        ax.scatter([w[0]], [w[1]], color=pal.c[3], s=45, zorder=5)
        # below-right of the ball, clear of the ball, the orange contour and the axis lines
        xy_text, ha = ((w[0] - 0.35, w[1] - 0.8), "left") if kind == "l1" else ((1.6, -0.95), "center")
        ax.annotate(f"({w[0]:.2f}, {w[1]:.2f})", w, xytext=xy_text, ha=ha, color=pal.fg,
                    fontsize="small", arrowprops=dict(arrowstyle="->", color=pal.fg))
        ax.axhline(0, color=pal.muted, lw=0.8)
        ax.axvline(0, color=pal.muted, lw=0.8)
        ax.set_aspect("equal")
        ax.set_xlim(-1.4, 2.4)
        ax.set_ylim(-1.4, 2.0)
        ax.set_xticks([-1, 0, 1, 2])
        ax.set_yticks([-1, 0, 1])
        ax.set_xlabel("$w_1$")
        ax.set_title(title, fontsize="medium")
    axes[0].set_ylabel("$w_2$")


# ---------------------------------------------------------------- weights after training
def _fit_linear(seed=0, n=100, p=40, lam_l2=20.0, lam_l1=0.15):
    """Least squares with none / L2 (ridge, closed form) / L1 (lasso via ISTA)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, p))
    w_true = np.zeros(p)
    w_true[:5] = [2.5, -2.0, 1.5, 1.0, -1.0]
    y = X @ w_true + rng.normal(0, 1.0, n)
    w_none = np.linalg.lstsq(X, y, rcond=None)[0]
    w_l2 = np.linalg.solve(X.T @ X + lam_l2 * np.eye(p), X.T @ y)
    # ISTA for 1/(2n)||Xw-y||^2 + lam_l1*||w||_1
    L = np.linalg.eigvalsh(X.T @ X / n).max()
    w = np.zeros(p)
    for _ in range(3000):
        z = w - (X.T @ (X @ w - y) / n) / L
        w = np.sign(z) * np.maximum(np.abs(z) - lam_l1 / L, 0.0)
    return w_none, w, w_l2


@figure("l1-l2-weights", size=(6.4, 5.2))
def l1_l2_weights(fig, pal):
    ws = _fit_linear()
    axes = fig.subplots(3, 1, sharex=True)
    bins = np.linspace(-3, 3, 61)
    names = ("不加正则", "L1", "L2")
    zeros = [int(np.sum(w == 0.0)) for w in ws]
    assert zeros == [0, 31, 0]
    for ax, w, name, col in zip(axes, ws, names, (pal.muted, pal.c[0], pal.c[1])):
        ax.hist(w, bins=bins, color=col, edgecolor=pal.bg, lw=0.5)
        small = int(np.sum(np.abs(w) < 0.05))
        # top left: only single-count bars stand left of -0.5
        ax.text(0.01, 0.95, f"恰为 0：{int(np.sum(w == 0.0))}/{w.size}\n|w|<0.05：{small}",
                transform=ax.transAxes, ha="left", va="top", color=pal.fg, fontsize="small")
        ax.set_ylabel(name)
        ax.set_yticks([])
        ax.grid(True, axis="x")
    axes[-1].set_xlabel("权重值（真实：5 个非零，35 个为 0）")


# ---------------------------------------------------------------- dropout
DROPOUT_SIZES = [4, 6, 6, 2]


@cache
def dropout_experiment(p=0.5, n_units=100, trials=20000):
    """One random dropout mask of a small net (for the drawing), then a Monte-Carlo of the input
    of one next-layer unit: inverted dropout in training vs inference (and without the rescaling)."""
    rng = np.random.default_rng(4)
    sizes = DROPOUT_SIZES
    keep = [np.ones(sizes[0], bool)] + [rng.random(s) >= p for s in sizes[1:-1]] + [np.ones(sizes[-1], bool)]
    a = rng.uniform(0, 1, n_units)             # activations of the previous layer
    w = rng.normal(0.1, 0.2, n_units)          # weights into one next-layer unit
    masks = rng.random((trials, n_units)) >= p
    s_train = (masks * a) @ w / (1 - p)        # inverted dropout: scale kept units by 1/(1-p)
    s_infer = a @ w                            # inference: no mask, no scaling
    s_noscale = (1 - p) * s_infer              # what the mean would be without rescaling
    return keep, s_train, s_infer, s_noscale


@figure("dropout-net", size=(6.4, 3.6))
def dropout_net(fig, pal):
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.05, 1]})
    sizes = DROPOUT_SIZES
    p = 0.5
    keep, s_train, s_infer, s_noscale = dropout_experiment(p)
    pos = []
    for li, s in enumerate(sizes):
        ys = np.linspace(-(s - 1) / 2, (s - 1) / 2, s)
        pos.append([(li, yy) for yy in ys])
    for li in range(len(sizes) - 1):
        for i, (x0, y0) in enumerate(pos[li]):
            for j, (x1, y1) in enumerate(pos[li + 1]):
                if keep[li][i] and keep[li + 1][j]:
                    ax.plot([x0, x1], [y0, y1], color=pal.muted, lw=0.8, zorder=1)
    for li, layer in enumerate(pos):
        for i, (x0, y0) in enumerate(layer):
            if keep[li][i]:
                ax.scatter([x0], [y0], s=170, color=pal.c[0], zorder=3, edgecolor=pal.fg, lw=0.8)
            else:
                ax.scatter([x0], [y0], s=170, facecolor=pal.bg, edgecolor=pal.muted, lw=1.2, zorder=3)
                ax.scatter([x0], [y0], s=60, marker="x", color=pal.c[3], zorder=4, lw=1.5)
    ax.set_xlim(-0.4, 3.4)
    ax.set_ylim(-3.3, 3.1)
    ax.set_title(f"一次训练，p={p}")
    ax.axis("off")

    counts, _, _ = ax2.hist(s_train, bins=50, color=pal.c[0], alpha=0.75)
    top = counts.max() * 2.0  # headroom: the legend sits above the histogram and the lines
    ax2.set_ylim(0, top)
    line_top = counts.max() * 1.08 / top
    ax2.axvline(s_infer, ymax=line_top, color=pal.c[1], lw=2.2, label="推理")
    ax2.axvline(s_train.mean(), ymax=line_top, color=pal.fg, lw=1.5, ls="--", label="训练均值")
    ax2.axvline(s_noscale, ymax=line_top, color=pal.c[3], lw=1.5, ls=":", label="不乘 1/(1−p)")
    ax2.set_yticks([])
    ax2.set_xlabel("下一层单元的输入")
    ax2.set_title("训练 vs 推理")
    ax2.legend(frameon=False, loc="upper right", handlelength=1.6, borderaxespad=0.2)


# ---------------------------------------------------------------- batch norm
@cache
def bn_stats_runs(width=256, batch=256, depth=20):
    """Std of pre-activations layer by layer in a 20-layer ReLU MLP at init, for weight scales
    0.8 and 1.25 times He without BN and 0.8 times He with BN (no learnable scale)."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(0, 1, (batch, width))
    Ws = [rng.normal(0, 1, (width, width)) for _ in range(depth)]
    out = []
    for gain, use_bn in ((0.8, False), (1.25, False), (0.8, True)):
        h = x0
        stds = []
        for W in Ws:
            z = h @ (W * gain * np.sqrt(2 / width))
            if use_bn:
                z = (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)
            stds.append(z.std())
            h = np.maximum(z, 0)
        out.append(np.array(stds))
    return out


@figure("bn-stats", size=(6.4, 3.8))
def bn_stats(fig, pal):
    """Std of pre-activations layer by layer in a 20-layer ReLU MLP, at init."""
    runs = bn_stats_runs()
    ax = fig.subplots()
    layers = np.arange(1, len(runs[0]) + 1)
    for stds, col, ls, label in zip(runs, (pal.c[0], pal.c[3], pal.c[2]), ("-", "-", "--"),
                                    ("无 BN，0.8 倍 He", "无 BN，1.25 倍 He", "有 BN（两种尺度相同）")):
        ax.semilogy(layers, stds, color=col, lw=2.2, ls=ls, label=label)
    ax.set_xlabel("层")
    ax.set_ylabel("预激活的标准差")
    ax.set_xticks([1, 5, 10, 15, 20])
    ax.set_ylim(1e-2, 3e3)  # headroom for the legend above the growing curve
    ax.set_yticks([1e-2, 1, 1e2])
    ax.minorticks_off()
    ax.grid(True)
    ax.legend(loc="upper left")
