"""Figures for content/engineering.md (工程与前沿)."""
import numpy as np

from deckgen.figure_api import figure


def _softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- distillation temperature
TEACHER_LOGITS = np.array([6.0, 3.5, 2.5, 0.0, -1.5])
CLASSES = ["cat", "dog", "fox", "car", "ship"]


@figure("softmax-temperature", size=(6.4, 3.6))
def softmax_temperature(fig, pal):
    ax = fig.subplots()
    temps = (1, 3, 10)
    width = 0.26
    xs = np.arange(len(CLASSES))
    for k, T in enumerate(temps):
        p = _softmax(TEACHER_LOGITS / T)
        ax.bar(xs + (k - 1) * width, p, width, color=pal.c[k], label=f"T = {T}")
        for x, v in zip(xs + (k - 1) * width, p):
            if v > 0.005:
                ax.text(x, v + 0.015, f"{v:.2f}", ha="center", va="bottom", fontsize=10, color=pal.fg, rotation=90)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{c}\nz={z:g}" for c, z in zip(CLASSES, TEACHER_LOGITS)], fontsize=11)
    ax.set_ylabel("softmax(z / T)")
    ax.set_ylim(0, 1.12)
    ax.grid(True, axis="y", color=pal.grid, lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(frameon=False, loc="upper right")


# ---------------------------------------------------------------- attention map
def attention_weights(seed=0, n=6, d=64):
    rng = np.random.default_rng(seed)
    Q = rng.normal(0, 1, (n, d))
    K = rng.normal(0, 1, (n, d))
    scaled = _softmax(Q @ K.T / np.sqrt(d))
    unscaled = _softmax(Q @ K.T)
    return scaled, unscaled


@figure("attention-map", size=(6.4, 3.6))
def attention_map(fig, pal):
    scaled, unscaled = attention_weights()
    axes = fig.subplots(1, 2)
    n = scaled.shape[0]
    for ax, A, title in zip(axes, (scaled, unscaled),
                            ("softmax($QK^T/\\sqrt{d}$)", "softmax($QK^T$), no scaling")):
        ax.imshow(A, cmap="Blues", vmin=0, vmax=1)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{A[i, j]:.2f}".replace("0.", ".", 1), ha="center", va="center",
                        fontsize=10, color="white" if A[i, j] > 0.55 else "black")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels([f"k{j+1}" for j in range(n)], fontsize=11)
        ax.set_yticklabels([f"q{i+1}" for i in range(n)], fontsize=11)
        ax.set_title(title, fontsize=12)
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
    axes[0].set_ylabel("query (row sums to 1)", fontsize=11)


# ---------------------------------------------------------------- ring all-reduce
def ring_allreduce_states(n=4, seed=0):
    """Simulate ring all-reduce on n workers, n chunks each.

    Returns (snapshots, ok): snapshots are (title, contributors[n][n]) after selected
    steps; ok says whether every worker ends with the exact sum of all gradients."""
    rng = np.random.default_rng(seed)
    grads = rng.normal(0, 1, (n, n, 3))          # worker, chunk, values
    data = grads.copy()
    contrib = [[{w} for _ in range(n)] for w in range(n)]
    snaps = [("start: own gradient", [[set(s) for s in row] for row in contrib])]
    # reduce-scatter: in step s, worker w sends chunk (w - s) % n to worker w + 1, which adds it
    for s in range(n - 1):
        sends = [(w, (w - s) % n, data[w, (w - s) % n].copy(), set(contrib[w][(w - s) % n])) for w in range(n)]
        for w, c, vals, who in sends:
            dst = (w + 1) % n
            data[dst, c] += vals
            contrib[dst][c] |= who
        if s == 0:
            snaps.append(("reduce-scatter, step 1", [[set(x) for x in row] for row in contrib]))
    snaps.append((f"after reduce-scatter ({n - 1} steps)", [[set(x) for x in row] for row in contrib]))
    # all-gather: in step s, worker w sends its complete chunk (w + 1 - s) % n to worker w + 1
    for s in range(n - 1):
        sends = [(w, (w + 1 - s) % n, data[w, (w + 1 - s) % n].copy(), set(contrib[w][(w + 1 - s) % n]))
                 for w in range(n)]
        for w, c, vals, who in sends:
            dst = (w + 1) % n
            data[dst, c] = vals
            contrib[dst][c] = who
    snaps.append((f"after all-gather ({n - 1} more)", [[set(x) for x in row] for row in contrib]))
    ok = np.allclose(data, grads.sum(axis=0, keepdims=True))
    return snaps, ok


@figure("ring-allreduce", size=(6.4, 4.8))
def ring_allreduce(fig, pal):
    n = 4
    snaps, ok = ring_allreduce_states(n)
    assert ok
    names = "ABCD"
    axes = fig.subplots(2, 2)
    for ax, (title, contrib) in zip(axes.flat, snaps):
        for w in range(n):
            for c in range(n):
                who = contrib[w][c]
                frac = len(who) / n
                ax.add_patch(__import__("matplotlib").patches.Rectangle(
                    (c, w), 0.94, 0.94, facecolor=pal.c[0], alpha=0.15 + 0.75 * frac,
                    edgecolor=pal.muted, lw=0.6))
                ax.text(c + 0.47, w + 0.47, "".join(names[i] for i in sorted(who)), ha="center", va="center",
                        fontsize=11, color=pal.fg)
        ax.set_xlim(-0.05, n)
        ax.set_ylim(n, -0.05)
        ax.set_xticks(np.arange(n) + 0.47)
        ax.set_xticklabels([f"c{c}" for c in range(n)], fontsize=11)
        ax.set_yticks(np.arange(n) + 0.47)
        ax.set_yticklabels([f"GPU {names[w]}" for w in range(n)], fontsize=11)
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
        ax.set_title(title, fontsize=11)


# ---------------------------------------------------------------- GAN generator losses
@figure("gan-generator-loss", size=(6.4, 3.4))
def gan_generator_loss(fig, pal):
    d = np.linspace(0.001, 0.999, 500)           # D(G(z))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(d, np.log(1 - d), color=pal.c[3], lw=2, label="minimax: log(1-D)")
    ax1.plot(d, -np.log(d), color=pal.c[0], lw=2, label="non-saturating: -log D")
    ax1.set_xlabel("D(G(z))")
    ax1.set_ylabel("generator loss")
    ax1.set_ylim(-4, 4)
    ax1.legend(frameon=False, fontsize=11, loc="upper right")
    # gradient magnitude w.r.t. the discriminator's logit l, D = sigmoid(l)
    ax2.plot(d, d, color=pal.c[3], lw=2, label="|d/dl log(1-D)| = D")
    ax2.plot(d, 1 - d, color=pal.c[0], lw=2, label="|d/dl -log D| = 1-D")
    ax2.axvspan(0, 0.1, color=pal.muted, alpha=0.2, lw=0)
    ax2.text(0.12, 0.55, "early training:\nD(G(z)) near 0", fontsize=11, color=pal.fg)
    ax2.set_xlabel("D(G(z))")
    ax2.set_ylabel("gradient size")
    ax2.legend(frameon=False, fontsize=10, loc="upper center", bbox_to_anchor=(0.5, 1.18))
    for ax in (ax1, ax2):
        ax.grid(True, color=pal.grid, lw=0.6)
