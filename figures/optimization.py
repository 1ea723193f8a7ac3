"""Figures for the deck 优化与训练 (content/optimization.md).

Optimizer paths come from running the update rules; the batch-size and layer-convergence
figures are small real experiments on seeded synthetic data (numpy only, a few seconds, cached
per process so the day and night renders share one run).
"""
import math
from functools import cache

import numpy as np
from _act import relu, sigmoid

from deckgen.figure_api import figure

# ---------------------------------------------------------------- optimizer paths

_A = np.array([0.04, 2.0])  # f(x, y) = (0.04 x^2 + 2 y^2) / 2: condition number 50
_P0 = (-8.0, 1.5)
_OPTS = ("SGD", "Momentum", "Nesterov", "RMSProp", "Adam")


def _quad(p):
    return 0.5 * float((_A * p**2).sum())


def _run_opt(name, lr, steps=60):
    """Run one optimizer with exact gradients of the quadratic; returns the visited points."""
    p = np.array(_P0)
    m = np.zeros(2)
    v = np.zeros(2)
    path = [p.copy()]
    for t in range(1, steps + 1):
        g = _A * p
        if name == "SGD":
            p = p - lr * g
        elif name == "Momentum":  # v <- 0.9 v + g; p <- p - lr v
            m = 0.9 * m + g
            p = p - lr * m
        elif name == "Nesterov":  # the same, with the look-ahead form used by PyTorch
            m = 0.9 * m + g
            p = p - lr * (g + 0.9 * m)
        elif name == "RMSProp":
            v = 0.9 * v + 0.1 * g**2
            p = p - lr * g / (np.sqrt(v) + 1e-8)
        elif name == "Adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            p = p - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        path.append(p.copy())
    return np.array(path)


# Hand-picked, typical learning rates: SGD close to its stability limit 2/lambda_max = 1,
# momentum methods 10x smaller (their effective step is lr / (1 - 0.9)), adaptive ones in
# parameter units. The loss panel shows how each choice fares.
_LRS = {"SGD": 0.9, "Momentum": 0.1, "Nesterov": 0.1, "RMSProp": 0.2, "Adam": 0.5}


@cache
def _paths():
    return {name: (lr, _run_opt(name, lr)) for name, lr in _LRS.items()}


@figure("optimizer-paths", size=(6.4, 5.4))
def optimizer_paths(fig, pal):
    runs = _paths()
    gs = fig.add_gridspec(2, 2, height_ratios=[1.2, 1])
    xs = np.linspace(-9, 2, 300)
    ys = np.linspace(-2.2, 2.2, 200)
    X, Y = np.meshgrid(xs, ys)
    F = 0.5 * (_A[0] * X**2 + _A[1] * Y**2)
    colors = dict(zip(_OPTS, (pal.c[0], pal.c[1], pal.c[4], pal.c[2], pal.c[3])))
    groups = (("SGD", "Momentum", "Nesterov"), ("RMSProp", "Adam"))
    titles = ("SGD 与动量法", "RMSProp / Adam")
    for col, names in enumerate(groups):
        ax = fig.add_subplot(gs[0, col])
        ax.contour(X, Y, F, levels=np.geomspace(0.01, 3, 9), colors=pal.grid, linewidths=0.8)
        for name in names:
            path = runs[name][1]
            ax.plot(path[:, 0], path[:, 1], "-o", color=colors[name], markersize=2, linewidth=1.3)
        ax.plot(0, 0, "*", color=pal.fg, markersize=10)
        ax.set_xlim(-9, 2)
        ax.set_ylim(-2.2, 2.2)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[col], fontsize="medium")
    ax = fig.add_subplot(gs[1, :])
    for name in _OPTS:
        lr, path = runs[name]
        ax.semilogy([_quad(p) for p in path], color=colors[name], linewidth=1.8,
                    label=f"{name}，lr {lr:g}")
    ax.set_xlabel("步数")
    ax.set_ylabel("损失 f")
    ax.set_yticks([1, 1e-2, 1e-4])
    ax.minorticks_off()
    ax.grid(True)
    # below the loss panel, so the path panels keep the full width
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
               handlelength=1.2, columnspacing=1.2)


# ---------------------------------------------------------------- SGD vs full-batch GD

@cache
def _sgd_vs_gd(epochs=10, reps=3):
    rng = np.random.default_rng(5)
    n, d = 1000, 10
    X = rng.normal(0, 1, (n, d)) * np.geomspace(1, 3, d)
    y = X @ rng.normal(0, 1, d) + rng.normal(0, 1.0, n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    r0 = X @ w_star - y

    def gap(W):
        """Loss minus the optimum for each row of W."""
        r = X @ np.atleast_2d(W).T - y[:, None]
        return 0.5 * ((r * r).sum(0) - r0 @ r0) / n

    lam = np.linalg.eigvalsh(X.T @ X / n)
    curves = {}
    w = np.zeros(d)
    gd = [gap(w)[0]]
    lr_gd = 2 / (lam.max() + lam.min())
    for _ in range(epochs):
        w = w - lr_gd * X.T @ (X @ w - y) / n
        gd.append(gap(w)[0])
    curves["全量 GD（每 epoch 1 步）"] = (np.arange(epochs + 1), np.array(gd))
    runs = (("SGD batch 1，常数 lr", 1, False), ("SGD batch 1，lr ∝ 1/t", 1, True),
            ("mini-batch 32，常数 lr", 32, False))
    # the shuffles of every run (label, repetition, epoch), drawn in the order the runs were
    # first written in, one after another
    perms = np.array([[[rng.permutation(n) for _ in range(epochs)] for _ in range(reps)] for _ in runs])
    xs = np.concatenate([[0.0], np.arange(1, 10 * epochs + 1) / 10])  # every 100 samples
    # batch 1: the 2 x 3 runs in step, one row of W each
    perm1 = perms[:2].reshape(2 * reps, epochs, n)
    decay = np.repeat([False, True], reps)
    W = np.zeros((2 * reps, d))
    rows = np.arange(2 * reps)
    gaps = [gap(W)]
    t = 0
    for ep in range(epochs):
        for k in range(n):
            idx = perm1[rows, ep, k]
            t += 1
            lr = np.where(decay, 0.02 / (1 + t / 500), 0.02)
            xi = X[idx]
            W = W - lr[:, None] * (xi * ((xi * W).sum(1) - y[idx])[:, None])
            if (k + 1) % 100 == 0:
                gaps.append(gap(W))
    gaps = np.array(gaps)  # (records, runs)
    for i, (label, _, _) in enumerate(runs[:2]):
        curves[label] = (xs, np.exp(np.log(gaps[:, i * reps:(i + 1) * reps]).mean(1)))
    # mini-batch 32: a few hundred steps, one run after another
    B = 32
    label = runs[2][0]
    res = []
    for rep in range(reps):
        w = np.zeros(d)
        g = [gap(w)[0]]
        for ep in range(epochs):
            perm = perms[2, rep, ep]
            for k in range(0, n, B):
                idx = perm[k:k + B]
                w = w - 0.1 * X[idx].T @ (X[idx] @ w - y[idx]) / len(idx)
                if (k + B) // 100 > k // 100:
                    g.append(gap(w)[0])
        res.append(g)
    xb = [0.0] + [ep + (k + B) / n for ep in range(epochs) for k in range(0, n, B) if (k + B) // 100 > k // 100]
    curves[label] = (np.array(xb), np.exp(np.log(res).mean(0)))
    return curves


@figure("sgd-vs-gd", size=(6.4, 4.0))
def sgd_vs_gd(fig, pal):
    curves = _sgd_vs_gd()
    ax = fig.subplots()
    styles = ("-o", "-", "-", "-")
    for i, (label, (x, g)) in enumerate(curves.items()):
        ax.semilogy(x, g, styles[i], color=pal.c[i], linewidth=1.6, markersize=4, label=label)
    ax.set_xlabel("epoch（遍历全部 1000 个样本的次数）")
    ax.set_ylabel("损失 − 最优值")
    ax.grid(True)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
               handlelength=1.4, columnspacing=1.0)


# ---------------------------------------------------------------- batch-size experiment

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 400)


def _bs_data(S, rng):
    """S independent draws of the seed's data: two 12-D Gaussians, identity covariance, means 0
    and (1, ..., 1); 500 points (250 per class), split 400 train / 100 test at random."""
    n = 500
    y = np.tile(np.repeat([0.0, 1.0], n // 2), (S, 1))
    X = rng.normal(0, 1, (S, n, 12)) + y[..., None]
    perm = np.argsort(rng.random((S, n)), axis=1)
    X = np.take_along_axis(X, perm[..., None], 1)
    y = np.take_along_axis(y, perm, 1)
    return X[:, :400], y[:, :400], X[:, 400:], y[:, 400:]


def _bs_train(Xtr, ytr, B, lrs, wanted, rng, H=16):
    """Plain SGD on a 12-16-1 tanh MLP with logistic loss: S runs at once (one per data draw) for
    each learning rate of `lrs`, all in step. Every learning rate starts from the same weights and
    sees the same shuffles (the runs of one seed differ only in their step size). `wanted` holds
    (step, learning-rate index) pairs; returns {(step, index): params of its S runs}. A learning
    rate stops running after its last wanted step (put the longest-running ones first)."""
    S, n, d = Xtr.shape
    L = len(lrs)
    # parameters are (L, S, ...): the batch (S, B, d) broadcasts over the learning rates
    W1 = np.repeat(rng.normal(0, np.sqrt(1 / d), (1, S, d, H)), L, 0)
    b1 = np.zeros((L, S, 1, H))
    w2 = np.repeat(rng.normal(0, np.sqrt(1 / H), (1, S, H, 1)), L, 0)
    b2 = np.zeros((L, S, 1, 1))
    lr = np.asarray(lrs, dtype=float)[:, None, None, None]
    last = [max(t for t, i in wanted if i == k) for k in range(L)]
    sidx = np.arange(S)[:, None]
    out = {}
    pos = n
    for step in range(1, max(last) + 1):
        live = sum(t >= step for t in last)
        if live < len(W1):  # drop the learning rates that are done
            W1, b1, w2, b2, lr = W1[:live], b1[:live], w2[:live], b2[:live], lr[:live]
        if pos + B > n:  # new epoch: reshuffle (a last incomplete batch is dropped)
            if n > B:
                order = np.argsort(rng.random((S, n)), 1)
                Xp, yp = Xtr[sidx, order], ytr[sidx, order][..., None]
            else:
                Xp, yp = Xtr, ytr[..., None]
            pos = 0
        x, yy = Xp[:, pos:pos + B], yp[:, pos:pos + B]
        pos += B
        h = np.tanh(x @ W1 + b1)
        p = 1 / (1 + np.exp(-(h @ w2 + b2)))
        d2 = (p - yy) / B
        gw2 = h.transpose(0, 1, 3, 2) @ d2
        gb2 = d2.sum(2, keepdims=True)
        dh = d2 * w2.transpose(0, 1, 3, 2) * (1 - h**2)
        gW1 = x.transpose(0, 2, 1) @ dh
        gb1 = dh.sum(2, keepdims=True)
        W1 -= lr * gW1
        b1 -= lr * gb1
        w2 -= lr * gw2
        b2 -= lr * gb2
        for t, k in wanted:
            if t == step:
                out[t, k] = tuple(a[k].copy() for a in (W1, b1, w2, b2))
    return out


def _bs_acc(params, X, y):
    W1, b1, w2, b2 = params
    z = np.tanh(X @ W1 + b1) @ w2 + b2
    return ((z[..., 0] > 0) == (y > 0.5)).mean(1)


@cache
def batch_size_results(S=16, epochs=20, lr0=0.05, updates=500):
    """Mean and standard error of test accuracy over S data draws, for three protocols:
    `epochs` epochs at lr0, `epochs` epochs at lr0 * B, and `updates` updates at lr0. For one B all
    three start from the same seeded weights and shuffles, so one run gives all three: the first two
    side by side, the third is the first one stopped (or continued) at `updates` steps."""
    Xtr, ytr, Xte, yte = _bs_data(S, np.random.default_rng(0))
    names = (f"固定 {epochs} epoch、lr {lr0}", f"{epochs} epoch、lr = {lr0}·B", f"每个 B 都更新 {updates} 次")
    accs = {name: [] for name in names}
    for B in BATCHES:
        steps = epochs * 400 // B
        wanted = ((steps, 0), (steps, 1), (updates, 0))
        snaps = _bs_train(Xtr, ytr, B, (lr0, lr0 * B), wanted, np.random.default_rng(B))
        for name, key in zip(names, wanted):
            accs[name].append(_bs_acc(snaps[key], Xte, yte))
    return {name: (np.array([a.mean() for a in acc]), np.array([a.std(ddof=1) / np.sqrt(S) for a in acc]))
            for name, acc in accs.items()}


@figure("batch-size-experiment", size=(6.4, 4.8))
def batch_size_experiment(fig, pal):
    from matplotlib.ticker import PercentFormatter

    res = batch_size_results()
    last = [f"{m[-1]:.1%}" for m, _ in res.values()]
    assert last == ["74.2%", "91.0%", "95.4%"]
    bayes = 0.5 * (1 + math.erf(math.sqrt(12) / 2 / math.sqrt(2)))  # Phi(sqrt(12)/2)
    assert f"{bayes:.1%}" == "95.8%"
    ax = fig.subplots()
    ax.axhline(bayes, color=pal.muted, linestyle=":", linewidth=1.5)
    # above the line, where no curve or error bar reaches (all runs stay below 0.963)
    ax.text(1, bayes + 0.006, f"贝叶斯最优 {bayes:.1%}", color=pal.muted, va="bottom")
    markers = ("o", "s", "^")
    for i, (name, (m, se)) in enumerate(res.items()):
        ax.errorbar(BATCHES, m, yerr=se, marker=markers[i], color=pal.c[i], linewidth=1.6,
                    markersize=4, capsize=2, label=f"{name}：B=400 时 {m[-1]:.1%}")
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 4, 16, 64, 400])
    ax.set_xticklabels(["1", "4", "16", "64", "400"])
    ax.minorticks_off()
    ax.set_xlabel("批大小 B")
    ax.set_ylabel("测试准确率")
    ax.set_ylim(0.70, 0.995)
    ax.set_yticks([0.7, 0.8, 0.9])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(True)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=1)


# ---------------------------------------------------------------- learning-rate schedule

def warmup_cosine(t, total, warm, peak):
    """Linear warmup from 0 to `peak` over `warm` steps, then cosine decay to 0 at `total`."""
    t = np.asarray(t, dtype=float)
    cos = 0.5 * peak * (1 + np.cos(np.pi * (t - warm) / (total - warm)))
    return np.where(t < warm, peak * t / warm, cos)


@figure("warmup-schedule", size=(6.4, 3.6))
def warmup_schedule(fig, pal):
    total, warm, peak = 10000, 500, 0.1
    t = np.arange(total + 1)
    step = np.where(t < warm, peak * t / warm, peak * 0.1 ** np.floor(t / (total * 0.3)).clip(0, 3))
    ax = fig.subplots()
    ax.axvspan(0, warm, color=pal.c[1], alpha=0.15, linewidth=0)
    ax.text(warm * 1.3, peak * 1.03, "warmup 500 步", color=pal.c[1], va="bottom")
    ax.plot(t, warmup_cosine(t, total, warm, peak), color=pal.c[0], linewidth=2, label="余弦衰减")
    ax.plot(t, step, "--", color=pal.c[2], linewidth=1.6, label="阶梯衰减 ×0.1")
    ax.set_xlabel("步数")
    ax.set_ylabel("学习率")
    ax.set_ylim(0, peak * 1.2)
    ax.set_yticks([0, 0.05, 0.1])
    ax.set_xticks([0, 5000, 10000])
    # right: above both curves there (the cosine is below 0.04 after 6000 steps)
    ax.legend(loc="center right", bbox_to_anchor=(1, 0.62))
    ax.grid(True)


# ---------------------------------------------------------------- learning rate too big / small

@figure("lr-too-big-small", size=(6.4, 4.0))
def lr_too_big_small(fig, pal):
    rng = np.random.default_rng(6)
    n, d = 500, 5
    X = rng.normal(0, 1, (n, d)) * np.linspace(0.5, 2.0, d)
    y = X @ rng.normal(0, 1, d) + rng.normal(0, 0.3, n)
    H = X.T @ X / n
    w_star = np.linalg.solve(H, X.T @ y / n)
    lam_max = np.linalg.eigvalsh(H).max()
    lr_max = 2 / lam_max  # GD on a quadratic is stable iff lr < 2 / lambda_max

    def gap(w):
        e = w - w_star
        return 0.5 * e @ H @ e

    ax = fig.subplots()
    for i, (r, ls) in enumerate(((0.02, "-"), (0.5, "-"), (0.98, "-"), (1.05, "--"))):
        w = np.zeros(d)
        g = [gap(w)]
        for _ in range(60):
            w = w - r * lr_max * H @ (w - w_star)
            g.append(gap(w))
        ax.semilogy(g, ls, color=pal.c[i], linewidth=1.8, label=f"lr = {r:g} × 2/λmax")
    ax.set_xlabel("步数")
    ax.set_ylabel("损失 − 最优值")
    ax.set_yticks([1e-4, 1, 1e4])
    ax.minorticks_off()
    ax.grid(True)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
               handlelength=1.6, columnspacing=1.2)


# ---------------------------------------------------------------- gradients through depth

@cache
def gradient_norms(depth=30, width=256, batch=128):
    """Norm of the backpropagated signal dL/dz_l (z_l = pre-activation of layer l) in a random
    deep MLP, L = sum(output * r) with r random, relative to the last layer's.

    Every configuration uses the same seeded standard-normal draws (input, weights, r), scaled by
    its weight std, so they are drawn once."""
    configs = {
        "sigmoid + Xavier": ("sigmoid", lambda n: math.sqrt(1 / n)),
        "tanh + Xavier": ("tanh", lambda n: math.sqrt(1 / n)),
        "ReLU + He": ("relu", lambda n: math.sqrt(2 / n)),
        "ReLU + 1.5 倍 He": ("relu", lambda n: 1.5 * math.sqrt(2 / n)),
    }
    rng = np.random.default_rng(7)
    h0 = rng.normal(0, 1, (batch, width))
    Z = [rng.normal(0, 1, (width, width)) for _ in range(depth)]
    r = rng.normal(0, 1, (batch, width))
    act_fn = {"sigmoid": sigmoid, "tanh": np.tanh, "relu": relu}
    out = {}
    for name, (act, std) in configs.items():
        Ws = [std(width) * z for z in Z]
        h, zs = h0, []
        for W in Ws:
            z = h @ W
            zs.append(z)
            h = act_fn[act](z)
        g = r / batch  # dL/d(output)
        norms = np.zeros(depth)
        for l in reversed(range(depth)):
            z = zs[l]
            if act == "sigmoid":
                s = sigmoid(z)
                g = g * s * (1 - s)
            elif act == "tanh":
                g = g * (1 - np.tanh(z) ** 2)
            else:
                g = g * (z > 0)
            norms[l] = np.linalg.norm(g)  # dL/dz_l
            g = g @ Ws[l].T
        out[name] = norms / norms[-1]
    return out


def _sci(v):
    """6e-19, 1e5 (no '+' or leading zeros in the exponent); 0.15, 1.02 between 0.1 and 10."""
    if 0.1 < v < 10:
        return f"{v:.2f}"
    mant, exp = f"{v:.0e}".split("e")
    return f"{mant}e{int(exp)}"


@figure("gradient-depth", size=(6.4, 4.5))
def gradient_depth(fig, pal):
    res = gradient_norms()
    assert [_sci(v[0]) for v in res.values()] == ["6e-19", "0.15", "1.02", "1e5"]
    ax = fig.subplots()
    styles = ("-", "-", "-", "--")
    for i, (name, norms) in enumerate(res.items()):
        ax.semilogy(np.arange(1, len(norms) + 1), norms, styles[i], color=pal.c[i], linewidth=2,
                    marker="o", markersize=3, label=f"{name}：{_sci(norms[0])}")
    ax.set_xlabel("层号（1 = 输入端）")
    ax.set_ylabel("梯度范数 ‖∂L/∂z‖")  # relative to layer 30: the caption says so
    ax.set_xticks([1, 10, 20, 30])
    ax.set_yticks([1e-18, 1e-12, 1e-6, 1, 1e6])
    ax.minorticks_off()
    ax.grid(True)
    # below the plot (the curves span it from corner to corner), with each curve's value at layer 1
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
               handlelength=1.4, columnspacing=1.0, handletextpad=0.4)


# ---------------------------------------------------------------- do layers converge at different speeds?

def _teacher_data(rng, n=1500, d=20):
    X = rng.normal(0, 1, (n, d))
    T1 = rng.normal(0, 1 / np.sqrt(d), (d, 32))
    T2 = rng.normal(0, 1 / np.sqrt(32), (32, 1))
    y = (np.tanh(2 * X @ T1) @ T2 > 0).ravel().astype(float)
    return X, y


def _train_snapshots(act, seeds, depth=5, width=64, epochs=40, B=50, lr=0.1, mom=0.9):
    """SGD with momentum on a depth-`depth` MLP, one run per seed (its own data, initial weights
    and shuffles), all seeds in step: arrays carry the seed as their first axis. Returns the
    weights after every epoch ([epoch][layer] -> (seeds, fan-in, fan-out)) and each run's final
    training accuracy."""
    S = len(seeds)
    rngs = [np.random.default_rng(seed) for seed in seeds]
    data = [_teacher_data(rng) for rng in rngs]
    X = np.stack([x for x, _ in data])
    y = np.stack([t for _, t in data])
    if act == "sigmoid":
        f, gain = sigmoid, 1.0
    else:
        f, gain = relu, 2.0
    dims = [X.shape[2]] + [width] * (depth - 1) + [1]
    per_seed = [[rng.normal(0, np.sqrt(gain / dims[i]), (dims[i], dims[i + 1])) for i in range(depth)]
                for rng in rngs]
    Ws = [np.stack([w[i] for w in per_seed]) for i in range(depth)]
    bs = [np.zeros((S, 1, dims[i + 1])) for i in range(depth)]
    vW = [np.zeros_like(W) for W in Ws]
    vb = [np.zeros_like(b) for b in bs]
    snaps = [[W.copy() for W in Ws]]
    n = X.shape[1]
    sidx = np.arange(S)[:, None]
    for _ in range(epochs):
        perm = np.stack([rng.permutation(n) for rng in rngs])
        for k in range(0, n, B):
            idx = perm[:, k:k + B]
            hs, zs = [X[sidx, idx]], []
            for i in range(depth):
                z = hs[-1] @ Ws[i] + bs[i]
                zs.append(z)
                hs.append(f(z) if i < depth - 1 else z)
            g = ((sigmoid(hs[-1][..., 0]) - y[sidx, idx]) / idx.shape[1])[..., None]
            for i in reversed(range(depth)):
                gW, gb = hs[i].transpose(0, 2, 1) @ g, g.sum(1, keepdims=True)
                if i > 0:
                    a = hs[i]
                    g = (g @ Ws[i].transpose(0, 2, 1)) * (a * (1 - a) if act == "sigmoid" else (zs[i - 1] > 0))
                vW[i] = mom * vW[i] + gW
                vb[i] = mom * vb[i] + gb
                Ws[i] -= lr * vW[i]
                bs[i] -= lr * vb[i]
        snaps.append([W.copy() for W in Ws])
    h = X
    for i in range(depth):
        h = h @ Ws[i] + bs[i]
        h = f(h) if i < depth - 1 else h
    acc = ((h[..., 0] > 0) == (y > 0.5)).mean(1)
    return snaps, acc


@cache
def layer_convergence(seeds=(0, 1, 2)):
    """Remaining distance to the final weights, ||W_l(t) - W_l(T)|| / ||W_l(0) - W_l(T)||,
    per layer and epoch, averaged over seeds; plus the final training accuracy."""
    out = {}
    for act in ("sigmoid", "relu"):
        snaps, accs = _train_snapshots(act, seeds)
        T = len(snaps) - 1
        curves = [np.array([[np.linalg.norm(snaps[t][l][k] - snaps[T][l][k])
                             / np.linalg.norm(snaps[0][l][k] - snaps[T][l][k])
                             for t in range(T + 1)] for l in range(len(snaps[0]))])
                  for k in range(len(seeds))]
        out[act] = (np.mean(curves, axis=0), float(np.mean(accs)))
    return out


@figure("layer-convergence", size=(6.4, 4.2))
def layer_convergence_fig(fig, pal):
    res = layer_convergence()
    assert [f"{res[a][1]:.0%}" for a in ("sigmoid", "relu")] == ["90%", "100%"]
    fig.get_layout_engine().set(wspace=0.1)  # the 40 of one panel and the 0 of the next apart
    axes = fig.subplots(1, 2, sharey=True)
    titles = {"sigmoid": "sigmoid", "relu": "ReLU + He"}
    for ax, act in zip(axes, ("sigmoid", "relu")):
        r, acc = res[act]
        for l in range(r.shape[0]):
            name = "输出层" if l == r.shape[0] - 1 else f"第 {l + 1} 层"
            ax.plot(r[l], color=pal.c[l], linewidth=1.8, label=name)
        ax.set_title(f"{titles[act]}\n训练准确率 {acc:.0%}", fontsize="medium")
        ax.set_xlabel("epoch")
        ax.set_xticks([0, 20, 40])
        ax.set_yticks([0, 0.5, 1])
        ax.grid(True)
    axes[0].set_ylabel("离最终权重的距离")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=5,
               handlelength=1.0, columnspacing=0.8, handletextpad=0.4)
