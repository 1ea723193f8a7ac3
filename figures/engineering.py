"""Figures for content/engineering.md (工程与前沿)."""
import numpy as np
from _cells import blend, ink, ramp
from matplotlib.patches import Rectangle

from deckgen.figure_api import figure


def _softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- distillation temperature
TEACHER_LOGITS = np.array([6.0, 3.5, 2.5, 0.0, -1.5])
CLASSES = ["cat", "dog", "fox", "car", "ship"]


@figure("softmax-temperature", size=(6.4, 3.8))
def softmax_temperature(fig, pal):
    ax = fig.subplots()
    temps = (1, 3, 10)
    width = 0.28
    xs = np.arange(len(CLASSES))
    for k, T in enumerate(temps):
        p = _softmax(TEACHER_LOGITS / T)
        # the target class's probability (the number the card quotes) in the legend, not on a bar
        ax.bar(xs + (k - 1) * width, p, width, color=pal.c[k], label=f"T = {T}：cat {p[0]:.2f}")
        if T in (1, 10):
            assert f"{p[0]:.2f}" == {1: "0.90", 10: "0.29"}[T]
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{c}\nz={z:g}" for c, z in zip(CLASSES, TEACHER_LOGITS)])
    ax.set_ylabel("softmax(z / T)")
    ax.set_ylim(0, 1.0)
    ax.set_yticks([0, 0.5, 1])
    ax.grid(True, axis="y")
    ax.set_axisbelow(True)
    ax.legend(loc="upper right")


# ---------------------------------------------------------------- attention map
def attention_weights(seed=0, n=6, d=64):
    rng = np.random.default_rng(seed)
    Q = rng.normal(0, 1, (n, d))
    K = rng.normal(0, 1, (n, d))
    scaled = _softmax(Q @ K.T / np.sqrt(d))
    unscaled = _softmax(Q @ K.T)
    return scaled, unscaled


@figure("attention-map", size=(6.4, 3.8))
def attention_map(fig, pal):
    scaled, unscaled = attention_weights()
    cmap = ramp(pal)  # weight 0 disappears into the card in both modes
    axes = fig.subplots(1, 2)
    n = scaled.shape[0]
    for ax, A, title in zip(axes, (scaled, unscaled), ("除以 $\\sqrt{d}$", "不缩放")):
        ax.imshow(A, cmap=cmap, vmin=0, vmax=1)
        for i in range(n):
            for j in range(n):
                t = f"{A[i, j]:.2f}"
                ax.text(j, i, "1" if t == "1.00" else t[1:], ha="center", va="center",
                        color=ink(pal, cmap(A[i, j])), fontsize="small")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels([f"k{j+1}" for j in range(n)])
        ax.set_yticklabels([f"q{i+1}" for i in range(n)])
        ax.set_title(title)
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
    axes[1].set_yticklabels([])
    axes[0].set_ylabel("查询（每行和为 1）")
    fig.supxlabel("键")


# ---------------------------------------------------------------- ring all-reduce
def ring_allreduce_states(n=4, seed=0):
    """Simulate ring all-reduce on n workers, n chunks each.

    Returns (snapshots, ok): snapshots are (title, contributors[n][n]) after selected
    steps; ok says whether every worker ends with the exact sum of all gradients."""
    rng = np.random.default_rng(seed)
    grads = rng.normal(0, 1, (n, n, 3))          # worker, chunk, values
    data = grads.copy()
    contrib = [[{w} for _ in range(n)] for w in range(n)]
    snaps = [("开始：各自的梯度", [[set(s) for s in row] for row in contrib])]
    # reduce-scatter: in step s, worker w sends chunk (w - s) % n to worker w + 1, which adds it
    for s in range(n - 1):
        sends = [(w, (w - s) % n, data[w, (w - s) % n].copy(), set(contrib[w][(w - s) % n])) for w in range(n)]
        for w, c, vals, who in sends:
            dst = (w + 1) % n
            data[dst, c] += vals
            contrib[dst][c] |= who
        if s == 0:
            snaps.append(("reduce-scatter 第 1 步", [[set(x) for x in row] for row in contrib]))
    snaps.append((f"reduce-scatter {n - 1} 步后", [[set(x) for x in row] for row in contrib]))
    # all-gather: in step s, worker w sends its complete chunk (w + 1 - s) % n to worker w + 1
    for s in range(n - 1):
        sends = [(w, (w + 1 - s) % n, data[w, (w + 1 - s) % n].copy(), set(contrib[w][(w + 1 - s) % n]))
                 for w in range(n)]
        for w, c, vals, who in sends:
            dst = (w + 1) % n
            data[dst, c] = vals
            contrib[dst][c] = who
    snaps.append((f"再 all-gather {n - 1} 步后", [[set(x) for x in row] for row in contrib]))
    ok = np.allclose(data, grads.sum(axis=0, keepdims=True))
    return snaps, ok


@figure("ring-allreduce", size=(6.4, 4.8))
def ring_allreduce(fig, pal):
    n = 4
    snaps, ok = ring_allreduce_states(n)
    assert ok
    names = "ABCD"
    axes = fig.subplots(2, 2)
    for k, (ax, (title, contrib)) in enumerate(zip(axes.flat, snaps)):
        for w in range(n):
            for c in range(n):
                who = contrib[w][c]
                # a complete sum stands out; partial sums get paler the fewer GPUs they hold
                cell = blend(pal, pal.c[0], 0.85 if len(who) == n else 0.1 + 0.1 * len(who))
                ax.add_patch(Rectangle((c, w), 0.94, 0.94, facecolor=cell, edgecolor=pal.muted, lw=0.6))
                ax.text(c + 0.47, w + 0.47, "".join(names[i] for i in sorted(who)), ha="center",
                        va="center", color=ink(pal, cell), fontsize="small")
        ax.set_xlim(-0.05, n)
        ax.set_ylim(n, -0.05)
        ax.set_xticks(np.arange(n) + 0.47)
        ax.set_xticklabels([f"c{c}" for c in range(n)] if k >= 2 else [])
        ax.set_yticks(np.arange(n) + 0.47)
        ax.set_yticklabels([f"GPU {names[w]}" for w in range(n)] if k % 2 == 0 else [])
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
        ax.set_title(title, fontsize="medium")


# ---------------------------------------------------------------- GAN generator losses
@figure("gan-generator-loss", size=(6.4, 3.8))
def gan_generator_loss(fig, pal):
    d = np.linspace(0.001, 0.999, 500)           # D(G(z))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(d, np.log(1 - d), color=pal.c[3], lw=2, label="minimax：log(1−D)")
    ax1.plot(d, -np.log(d), color=pal.c[0], lw=2, label="非饱和：−log D")
    ax1.set_ylim(-4, 4)
    ax1.set_title("生成器损失")
    # gradient magnitude w.r.t. the discriminator's logit l, D = sigmoid(l)
    ax2.plot(d, d, color=pal.c[3], lw=2)
    ax2.plot(d, 1 - d, color=pal.c[0], lw=2)
    ax2.text(0.97, 0.8, "D", color=pal.c[3], ha="right", va="top")
    ax2.text(0.97, 0.2, "1−D", color=pal.c[0], ha="right", va="bottom")
    ax2.set_title("对 logit 的梯度")
    for ax in (ax1, ax2):
        ax.axvspan(0, 0.1, color=pal.muted, alpha=0.25, lw=0)
        ax.set_xticks([0, 0.5, 1])
        ax.set_xlabel("D(G(z))")
        ax.grid(True)
    ax2.set_yticks([0, 0.5, 1])
    ax2.text(0.05, 0.5, "训练初期", rotation=90, ha="center", va="center", color=pal.fg)
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside upper center", ncol=2)
