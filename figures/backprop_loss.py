"""Figures for content/backprop-loss.md (反向传播与损失函数): loss curves from the real functions."""
import numpy as np

from deckgen.figure_api import figure


@figure("loss-vs-prob", size=(6.4, 3.8))
def loss_vs_prob(fig, pal):
    """Classification losses of one sample as a function of p_t, the probability of the true class."""
    p = np.linspace(0.005, 1, 600)
    ax = fig.subplots()
    ax.plot(p, -np.log(p), color=pal.c[0], lw=2.2, label="交叉熵  −log p")
    for g, col, ls in ((1, pal.c[1], "--"), (2, pal.c[3], "-"), (5, pal.c[4], ":")):
        ax.plot(p, -(1 - p) ** g * np.log(p), color=col, lw=2, ls=ls, label=f"focal, γ={g}")
    ax.plot(p, (1 - p) ** 2, color=pal.c[2], lw=2, ls="-.", label="MSE  (1−p)²")
    ax.set_xlabel("$p_t$（真实类别的预测概率）")
    ax.set_ylabel("损失")
    ax.set_ylim(0, 3)
    ax.set_xlim(0, 1)
    ax.set_yticks([0, 1, 2, 3])
    ax.grid(True)
    ax.legend(loc="upper right")


@figure("loss-vs-margin", size=(6.4, 3.8))
def loss_vs_margin(fig, pal):
    """Binary losses as functions of the margin m = y f(x), labels y in {-1, +1}."""
    m = np.linspace(-2, 2.5, 600)
    ax = fig.subplots()
    ax.plot(m, (m <= 0).astype(float), color=pal.muted, lw=2, label="0-1 损失")
    ax.plot(m, np.maximum(0, 1 - m), color=pal.c[1], lw=2.2, label="hinge")
    ax.plot(m, np.logaddexp(0, -m) / np.log(2), color=pal.c[0], lw=2.2, label="logistic (CE)")
    ax.plot(m, (1 - m) ** 2, color=pal.c[2], lw=2, ls="-.", label="平方")
    ax.set_xlabel("间隔 m = y·f(x)")
    ax.set_ylabel("损失")
    ax.set_ylim(0, 4)
    ax.grid(True)
    # top right: above every curve there (the square loss is 2.25 at m = 2.5)
    ax.legend(loc="upper right")


def smooth_l1(e, beta=1.0):
    a = np.abs(e)
    return np.where(a < beta, 0.5 * e ** 2 / beta, a - 0.5 * beta)


@figure("loss-regression", size=(6.4, 3.9))
def loss_regression(fig, pal):
    """MSE, L1 and smooth L1 (beta = 1) and their derivatives w.r.t. the error e."""
    e = np.linspace(-3, 3, 601)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(e, 0.5 * e ** 2, color=pal.c[0], lw=2, label="½e² (MSE)")
    ax1.plot(e, np.abs(e), color=pal.c[1], lw=2, label="|e| (L1)")
    ax1.plot(e, smooth_l1(e), color=pal.c[3], lw=2.2, ls="--", label="smooth L1")
    ax1.set_ylim(0, 3.2)
    ax1.set_title("损失")
    ax2.plot(e, e, color=pal.c[0], lw=2)
    ax2.plot(e, np.sign(e), color=pal.c[1], lw=2)
    ax2.plot(e, np.clip(e, -1, 1), color=pal.c[3], lw=2.2, ls="--")
    ax2.set_ylim(-3, 3)
    ax2.set_title("梯度")
    for ax in (ax1, ax2):
        ax.grid(True)
        ax.set_xlabel("误差 e")
        ax.set_xticks([-2, 0, 2])
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=3,
               handlelength=1.5, columnspacing=1.0, handletextpad=0.5)
