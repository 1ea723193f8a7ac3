"""Figures for the architecture & compute-cost deck (content/architecture.md).

Costs are computed from layer lists; the CNN timeline plots published numbers (torchvision's
reference ImageNet-1k weights: single 224-crop top-1 accuracy and parameter count).
"""
import numpy as np

from deckgen.figure_api import figure

# ---------------------------------------------------------------- VGG-16 cost per layer

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG16_FC = [(512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)]


def vgg16_layers(size=224):
    """[(name, params, MACs)] for VGG-16 (3x3 convs with bias, padding 1; 2x2 max pools)."""
    rows, c, h, block, idx = [], 3, size, 1, 0
    for v in VGG16_CFG:
        if v == "M":
            h //= 2
            block += 1
            idx = 0
            continue
        idx += 1
        rows.append((f"conv{block}_{idx}", 9 * c * v + v, 9 * c * v * h * h))
        c = v
    for i, (a, b) in enumerate(VGG16_FC):
        rows.append((f"fc{6 + i}", a * b + b, a * b))
    return rows


@figure("vgg16-cost-split", size=(6.4, 3.8))
def vgg16_cost_split(fig, pal):
    """Share of parameters vs share of multiply-adds, per VGG-16 stage."""
    rows = vgg16_layers()
    total_p = sum(r[1] for r in rows)
    total_m = sum(r[2] for r in rows)
    assert total_p == 138357544
    assert total_m == 15470264320
    groups = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    p = [sum(r[1] for r in rows if r[0].startswith(g)) / total_p * 100 for g in groups]
    m = [sum(r[2] for r in rows if r[0].startswith(g)) / total_m * 100 for g in groups]
    assert round(p[5]) == 74
    ax = fig.subplots()
    x = np.arange(len(groups))
    for shares, dx, col, label in ((p, -0.2, pal.c[0], f"参数量（共 {total_p / 1e6:.1f}M）"),
                                   (m, 0.2, pal.c[1], f"乘加（共 {total_m / 1e9:.2f}G）")):
        ax.bar(x + dx, shares, width=0.38, color=col, label=label)
        for xi, v in zip(x, shares):
            if v > 8:  # at most one number per stage, so the numbers never crowd
                ax.text(xi + dx, v + 1, f"{v:.0f}%", ha="center", va="bottom", color=col, fontsize="small")
    ax.set_xticks(x)
    ax.set_xticklabels([g.replace("conv", "c") for g in groups])
    ax.set_xlabel("阶段（c1–c5：卷积块）")
    ax.set_ylabel("占总量 (%)")
    ax.set_ylim(0, 85)
    ax.set_yticks([0, 20, 40, 60, 80])
    ax.grid(True, axis="y")
    ax.set_axisbelow(True)
    ax.legend(loc="upper left")


# ---------------------------------------------------------------- stacked 3x3 vs one big kernel

@figure("stacked-3x3-vs-large", size=(6.4, 3.8))
def stacked_3x3_vs_large(fig, pal):
    """Weights per C_in*C_out (C channels in and out) for one k x k conv vs (k-1)/2 stacked 3x3 convs."""
    ks = np.array([5, 7, 9, 11])
    n3 = (ks - 1) // 2
    big = ks ** 2
    stacked = 9 * n3
    rf = 1 + 2 * n3
    assert (rf == ks).all()
    saved = 1 - stacked / big
    assert [f"{v:.0%}" for v in saved[:2]] == ["28%", "45%"]
    ax = fig.subplots()
    x = np.arange(len(ks))
    ax.bar(x - 0.2, big, width=0.38, color=pal.c[1], label="一个 k×k 卷积")
    ax.bar(x + 0.2, stacked, width=0.38, color=pal.c[0], label="(k−1)/2 个 3×3 卷积")
    for xi, b, s_, f in zip(x, big, stacked, saved):
        ax.text(xi - 0.2, b + 2, f"{b}", ha="center", va="bottom", color=pal.c[1], fontsize="small")
        ax.text(xi + 0.2, s_ + 2, f"{s_}", ha="center", va="bottom", color=pal.c[0], fontsize="small")
    ax.set_xticks(x)
    ax.set_xticklabels([f"k={k}" for k in ks])
    ax.set_xlabel("感受野 k×k")
    ax.set_ylabel("权重数 / C²")
    ax.set_ylim(0, 145)
    ax.grid(True, axis="y")
    ax.set_axisbelow(True)
    ax.legend(loc="upper left")


# ---------------------------------------------------------------- evolution of classification CNNs

# (name, year of publication, ImageNet-1k top-1 % single 224 crop, parameters) -- torchvision
# reference weights (IMAGENET1K_V1), which give every model the same evaluation protocol.
CNN_TIMELINE = [
    ("AlexNet", 2012, 56.522, 61_100_840),
    ("VGG-16", 2014, 71.592, 138_357_544),
    ("GoogLeNet", 2014, 69.778, 6_624_904),
    ("ResNet-50", 2015, 76.130, 25_557_032),
    ("ResNet-152", 2015, 78.312, 60_192_808),
    ("DenseNet-121", 2017, 74.434, 7_978_856),
    ("MobileNetV2", 2018, 71.878, 3_504_872),
    ("EfficientNet-B0", 2019, 77.692, 5_288_548),
    ("ConvNeXt-T", 2022, 82.520, 28_589_128),
]


@figure("cnn-evolution", size=(6.4, 5.0))
def cnn_evolution(fig, pal):
    ax = fig.subplots()
    # label offsets in points from the dot; the label is left of the dot when dx < 0
    offsets = {"AlexNet": (10, 0), "VGG-16": (-16, -2), "GoogLeNet": (8, -16), "ResNet-50": (-9, -3),
               "ResNet-152": (-11, 14), "DenseNet-121": (7, 0), "MobileNetV2": (7, -16),
               "EfficientNet-B0": (-6, 16), "ConvNeXt-T": (-9, 8)}
    for name, year, acc, params in CNN_TIMELINE:
        light = params < 10e6
        ax.scatter([year], [acc], s=20 + params / 1e6 * 4, color=pal.c[2] if light else pal.c[0],
                   alpha=0.75, edgecolor=pal.fg, lw=0.6, zorder=3)
        dx, dy = offsets[name]
        ax.annotate(f"{name}\n{params / 1e6:.1f}M", (year, acc), textcoords="offset points",
                    xytext=(dx, dy), ha="left" if dx > 0 else "right", va="center", color=pal.fg,
                    fontsize="small", linespacing=1.1)
    for col, label in ((pal.c[0], "≥ 10M 参数"), (pal.c[2], "< 10M 参数")):
        ax.scatter([], [], s=60, color=col, alpha=0.75, edgecolor=pal.fg, lw=0.6, label=label)
    ax.set_xlim(2010.6, 2023.4)
    ax.set_ylim(50, 90)
    ax.set_xticks([2012, 2015, 2018, 2021])
    ax.set_xlabel("发表年份")
    ax.set_ylabel("top-1 准确率 (%)")
    ax.grid(True)
    ax.legend(loc="lower right", handletextpad=0.3)
