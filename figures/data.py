"""Figures for the deck 数据与预处理 (content/data.md).

Every figure is computed from seeded synthetic data; numbers printed in a figure are the ones
the cards quote.
"""
from functools import cache

import numpy as np
from _act import sigmoid

from deckgen.figure_api import figure


def _gd_path(H, w_star, w0, lr, steps):
    """Gradient descent on 0.5 (w - w*)^T H (w - w*), which is the exact least-squares loss."""
    path = [w0]
    w = w0.copy()
    for _ in range(steps):
        w = w - lr * H @ (w - w_star)
        path.append(w.copy())
    return np.array(path)


@figure("scaling-gd-contours", size=(6.4, 3.9))
def scaling_gd_contours(fig, pal):
    """Least squares with two features of std 1 and 5: GD before and after z-scoring."""
    rng = np.random.default_rng(0)
    n = 500
    X = np.column_stack([rng.normal(0, 1, n), rng.normal(0, 5, n)])
    y = X @ np.array([2.0, 0.4]) + rng.normal(0, 0.5, n)
    steps = 20
    axes = fig.subplots(1, 2)
    for ax, scaled in zip(axes, (False, True)):
        Z = (X - X.mean(0)) / X.std(0) if scaled else X - X.mean(0)
        yc = y - y.mean()
        H = Z.T @ Z / n  # Hessian of L(w) = ||Zw - y||^2 / (2n)
        w_star = np.linalg.solve(H, Z.T @ yc / n)
        lam = np.linalg.eigvalsh(H)
        lr = 2 / (lam.max() + lam.min())  # the best constant step for a quadratic
        # same starting offset in units of each axis's spread, so both panels start "equally far"
        w0 = w_star + np.array([-2.0, 0.4]) * (np.sqrt(np.diag(H)) if scaled else 1.0)
        path = _gd_path(H, w_star, w0, lr, steps)

        def loss(w):
            d = w - w_star
            return 0.5 * d @ H @ d

        span = np.abs(path - w_star).max(0) * 1.15
        span[:] = span.max()  # equal axes, so the ellipse's true shape is shown
        g1 = np.linspace(w_star[0] - span[0], w_star[0] + span[0], 200)
        g2 = np.linspace(w_star[1] - span[1], w_star[1] + span[1], 200)
        W1, W2 = np.meshgrid(g1, g2)
        D1, D2 = W1 - w_star[0], W2 - w_star[1]
        L = 0.5 * (H[0, 0] * D1**2 + 2 * H[0, 1] * D1 * D2 + H[1, 1] * D2**2)
        levels = loss(w0) * np.geomspace(1e-3, 1.0, 8)
        ax.contour(W1, W2, L, levels=levels, colors=pal.muted, linewidths=0.8)
        ax.plot(path[:, 0], path[:, 1], "-o", color=pal.c[1], markersize=3, linewidth=1.2)
        ax.plot(*w_star, "*", color=pal.c[2], markersize=12)
        gap = loss(path[-1]) / loss(w0)  # share of the initial loss left after the 20 steps
        kappa = lam.max() / lam.min()
        left = f"{gap:.0%}" if gap > 1e-4 else "≈ 0"
        if not scaled:
            assert (f"{kappa:.0f}", left) == ("21", "2%")
        ax.set_title(("标准化后" if scaled else "原始特征") + f"\nκ = {kappa:.1f}，损失剩 {left}")
        ax.set_aspect("equal")
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_xticks([])
        ax.set_yticks([])


def _skew(v):
    v = np.asarray(v, dtype=float)
    d = v - v.mean()
    return (d**3).mean() / (d**2).mean() ** 1.5


@figure("skewed-feature-hist", size=(6.4, 5.0))
def skewed_feature_hist(fig, pal):
    """A log-normal (income-like) feature: raw, min-max, z-score and log then z-score."""
    rng = np.random.default_rng(1)
    x = rng.lognormal(mean=10.0, sigma=0.8, size=5000)
    mm = (x - x.min()) / (x.max() - x.min())
    z = (x - x.mean()) / x.std()
    lz = np.log(x)
    lz = (lz - lz.mean()) / lz.std()
    panels = [
        ("原始", x / 1e3, "数值 / 1000", pal.c[0]),
        ("min-max", mm, "缩放到 [0, 1]", pal.c[1]),
        ("z-score", z, "z", pal.c[2]),
        ("log 后 z-score", lz, "z", pal.c[4]),
    ]
    assert [f"{_skew(p[1]):.2f}" for p in panels] == ["4.43"] * 3 + ["0.06"]
    axes = fig.subplots(2, 2)
    for ax, (title, v, xlabel, col) in zip(axes.ravel(), panels):
        counts, _, _ = ax.hist(v, bins=60, color=col, alpha=0.85)
        ax.set_ylim(0, counts.max() * 1.3)  # headroom for the skewness
        ax.set_title(title)
        # top right: above the right tail (and beside the bell of the last panel)
        ax.text(0.98, 0.95, f"偏度 {_skew(v):.2f}", transform=ax.transAxes, ha="right", va="top")
        ax.set_xlabel(xlabel)
        ax.set_yticks([])
        ax.grid(True, axis="x")
    for ax in axes[:, 0]:
        ax.set_ylabel("样本数")


@figure("pca-loses-class", size=(6.4, 5.6))
def pca_loses_class(fig, pal):
    """Two classes that differ only along the low-variance direction: PCA to 1-D keeps PC1."""
    rng = np.random.default_rng(2)
    n = 400
    y = np.repeat([0, 1], n // 2)
    X = np.column_stack([rng.normal(0, 3.0, n), rng.normal(0, 0.35, n) + np.where(y == 1, 0.8, -0.8)])
    theta = np.deg2rad(25)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    X = X @ R.T
    Xc = X - X.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(Xc.T))
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    ratio = evals / evals.sum()

    def centroid_acc(p):
        # nearest class centroid on the 1-D projection (fit and scored on the same points)
        m0, m1 = p[y == 0].mean(), p[y == 1].mean()
        pred = (np.abs(p - m1) < np.abs(p - m0)).astype(int)
        return (pred == y).mean()

    gs = fig.add_gridspec(2, 2, height_ratios=[1.5, 1])
    ax = fig.add_subplot(gs[0, :])
    for k, marker in ((0, "o"), (1, "^")):
        ax.scatter(*X[y == k].T, s=8, color=pal.c[k], marker=marker, alpha=0.7, label=f"类别 {k}")
    for j, (ls, lab) in enumerate((("-", "PC1"), ("--", "PC2"))):
        v = evecs[:, j] * (7.5 if j == 0 else 2.2)
        ax.annotate("", xy=v, xytext=-v, arrowprops=dict(arrowstyle="->", color=pal.fg, lw=1.5, ls=ls))
        ax.text(*(v * 1.12), lab, color=pal.fg, ha="center", va="center",
                bbox=dict(facecolor=pal.bg, edgecolor="none", alpha=0.85, pad=1.5))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="lower right", markerscale=1.5, handletextpad=0.2)  # the empty corner
    quoted = []
    for j in (0, 1):
        a = fig.add_subplot(gs[1, j])
        p = Xc @ evecs[:, j]
        bins = np.linspace(p.min(), p.max(), 30)
        for k in (0, 1):
            a.hist(p[y == k], bins=bins, color=pal.c[k], alpha=0.6)
        acc = centroid_acc(p)
        quoted.append((f"{ratio[j]:.0%}", f"{acc:.0%}"))
        a.set_title(f"PC{j + 1}：方差 {ratio[j]:.0%}\n准确率 {acc:.0%}")
        a.set_xlabel(f"PC{j + 1} 坐标")
        a.set_yticks([])
        a.grid(True, axis="x")
    fig.axes[1].set_ylabel("样本数")
    assert quoted == [("92%", "50%"), ("8%", "99%")]


def _logreg(X, y, w_class, steps=3000, lr=0.5):
    """Logistic regression by full-batch gradient descent on a (class-)weighted cross-entropy."""
    Xb = np.column_stack([X, np.ones(len(X))])
    w = np.zeros(Xb.shape[1])
    sw = np.where(y == 1, w_class[1], w_class[0])
    sw = sw / sw.sum()
    for _ in range(steps):
        p = sigmoid(Xb @ w)
        w -= lr * Xb.T @ (sw * (p - y))
    return w


@cache
def imbalance_experiment():
    """95:5 two-Gaussian problem: plain vs class-weighted logistic regression, scored on a test
    set of the same ratio. Returns the training data and [(name, w, accuracy, minority recall,
    balanced accuracy)]."""
    rng = np.random.default_rng(3)

    def sample(n0, n1):
        X = np.vstack([rng.normal([0, 0], 1.0, (n0, 2)), rng.normal([2.0, 1.0], 1.0, (n1, 2))])
        return X, np.r_[np.zeros(n0), np.ones(n1)]

    X, y = sample(950, 50)
    Xt, yt = sample(9500, 500)
    n0, n1 = (y == 0).sum(), (y == 1).sum()
    fits = []
    for name, w_class in (("普通 CE", (1.0, 1.0)), ("加权 CE", (len(y) / (2 * n0), len(y) / (2 * n1)))):
        w = _logreg(X, y, w_class)
        pred = (np.column_stack([Xt, np.ones(len(Xt))]) @ w > 0).astype(int)
        acc = (pred == yt).mean()
        rec = pred[yt == 1].mean()
        bal = 0.5 * (rec + (1 - pred[yt == 0].mean()))
        fits.append((name, w, acc, rec, bal))
    return X, y, fits


@figure("imbalance-boundary", size=(6.4, 5.0))
def imbalance_boundary(fig, pal):
    X, y, fits = imbalance_experiment()
    assert [(f"{a:.0%}", f"{r:.0%}", f"{b:.0%}") for _, _, a, r, b in fits] == [
        ("96%", "47%", "73%"), ("86%", "86%", "86%")]
    ax = fig.subplots()
    ax.scatter(*X[y == 0].T, s=6, color=pal.c[0], alpha=0.35, label="多数类 950")
    ax.scatter(*X[y == 1].T, s=16, color=pal.c[1], marker="^", label="少数类 50")
    points = ax.legend(loc="upper right", markerscale=1.6, handletextpad=0.2)
    xs = np.linspace(-3.5, 5.0, 2)
    lines = []
    for (name, w, acc, rec, bal), col, ls in zip(fits, (pal.c[3], pal.c[2]), ("--", "-")):
        (line,) = ax.plot(xs, -(w[0] * xs + w[2]) / w[1], ls, color=col, lw=2,
                          label=f"{name}：准确率 {acc:.0%}\n少数类召回 {rec:.0%}\n平衡准确率 {bal:.0%}")
        lines.append(line)
    ax.set_xlim(-3.5, 5.0)
    ax.set_ylim(-3.5, 4.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.add_artist(points)
    fig.legend(handles=lines, loc="outside lower center", ncol=2, handlelength=1.5,
               columnspacing=1.0, handletextpad=0.5)


def _toy_image(rng):
    """A 64x64 RGB picture with an asymmetric 'F', so flips and rotations are visible."""
    h = w = 64
    yy, xx = np.mgrid[0:h, 0:w] / 63.0
    img = np.stack([0.25 + 0.5 * xx, 0.35 + 0.3 * yy, 0.75 - 0.4 * xx], axis=-1)
    F = np.zeros((h, w), bool)
    F[12:54, 18:26] = True
    F[12:20, 18:48] = True
    F[29:36, 18:40] = True
    img[F] = [0.95, 0.85, 0.2]
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1)


def _rotate(img, deg, scale=1.0):
    """Rotate about the centre (nearest neighbour), zooming in by `scale` to hide the corners."""
    h, w, _ = img.shape
    t = np.deg2rad(deg)
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys = ((yy - cy) * np.cos(t) - (xx - cx) * np.sin(t)) / scale + cy
    xs = ((yy - cy) * np.sin(t) + (xx - cx) * np.cos(t)) / scale + cx
    ys = np.clip(np.rint(ys).astype(int), 0, h - 1)
    xs = np.clip(np.rint(xs).astype(int), 0, w - 1)
    return img[ys, xs]


@figure("augmentation-examples", size=(6.4, 3.6))
def augmentation_examples(fig, pal):
    """Common image augmentations applied to one synthetic picture."""
    rng = np.random.default_rng(4)
    img = _toy_image(rng)
    other = np.zeros_like(img)
    yy, xx = np.mgrid[0:64, 0:64]
    other[...] = [0.15, 0.2, 0.3]
    other[(yy - 32) ** 2 + (xx - 32) ** 2 < 22**2] = [0.2, 0.8, 0.6]
    flip = img[:, ::-1]
    rot = _rotate(img, 20, scale=1.3)
    crop = img[8:48, 14:54].repeat(2, 0).repeat(2, 1)[:64, :64]
    crop = np.pad(crop, ((0, 64 - crop.shape[0]), (0, 64 - crop.shape[1]), (0, 0)), mode="edge")
    gray = img.mean(-1, keepdims=True)
    # brightness +, contrast +, saturation -, hue shifted by rotating the channels
    jitter = np.clip((img[..., [1, 2, 0]] - 0.5) * 1.3 + 0.6, 0, 1)
    jitter = np.clip(0.7 * jitter + 0.3 * gray, 0, 1)
    cut = img.copy()
    cut[20:44, 30:54] = 0.0
    lam = 0.6
    mix = lam * img + (1 - lam) * other
    cutmix = img.copy()
    cutmix[32:64, 32:64] = other[32:64, 32:64]
    panels = [("原图", img), ("水平翻转", flip), ("旋转 20°", rot),
              ("随机裁剪", crop), ("颜色抖动", jitter), ("Cutout", cut),
              ("Mixup", mix), ("CutMix", cutmix)]
    axes = fig.subplots(2, 4)
    for ax, (title, im) in zip(axes.ravel(), panels):
        ax.imshow(im, interpolation="nearest")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        for s in ax.spines.values():
            s.set_color(pal.muted)
