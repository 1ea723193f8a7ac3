"""Figures for the detection deck (content/detection.md).

Everything drawn is computed: IoU variants from their definitions (figures/_boxes.py), NMS by
running it on a synthetic scene, anchors and FPN levels from the published rules, the AP areas
from a ranked list, the loss shares from a synthetic population of anchors.
"""
import functools

import _boxes as B
import numpy as np
from matplotlib.patches import Rectangle

from deckgen.figure_api import figure


def _box(ax, b, color, lw=2.0, ls="-", fill=None, alpha=1.0, z=3):
    x1, y1, x2, y2 = b
    if fill is not None:
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, facecolor=fill, edgecolor="none", alpha=alpha, zorder=z - 1))
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, facecolor="none", edgecolor=color, lw=lw, ls=ls, zorder=z,
                           alpha=1.0 if fill is not None else alpha))


def _bare(ax):
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)


# ---------------------------------------------------------------- IoU and its variants

# The boxes of the worked example on the card {#ciou}.
GT = np.array([0.0, 0.0, 4.0, 4.0])
PRED = np.array([2.0, 2.0, 8.0, 5.0])


@figure("iou-geometry", size=(6.4, 3.9))
def iou_geometry(fig, pal):
    """A (ground truth), B (prediction), their intersection, the enclosing box C, the centre
    distance rho and the diagonal c of C: every quantity IoU, GIoU and DIoU use."""
    ax = fig.subplots()
    c = B.enclosing(GT, PRED)
    ix = (max(GT[0], PRED[0]), max(GT[1], PRED[1]), min(GT[2], PRED[2]), min(GT[3], PRED[3]))
    _box(ax, c, pal.muted, lw=1.6, ls="--", fill=pal.grid, alpha=0.35, z=2)
    _box(ax, GT, pal.c[0], lw=2.4)
    _box(ax, PRED, pal.c[1], lw=2.4)
    ax.add_patch(Rectangle(ix[:2], ix[2] - ix[0], ix[3] - ix[1], facecolor=pal.c[2], alpha=0.45, zorder=2))
    ca, cb = (GT[:2] + GT[2:]) / 2, (PRED[:2] + PRED[2:]) / 2
    ax.plot([ca[0], cb[0]], [ca[1], cb[1]], "o-", color=pal.c[3], lw=2, zorder=5)
    ax.plot([c[0], c[2]], [c[1], c[3]], ":", color=pal.fg, lw=1.4, zorder=4)
    ax.text(0.3, 3.4, "A（真值）", color=pal.c[0])
    ax.text(2.2, 4.7, "B（预测）", color=pal.c[1])
    ax.text(2.3, 2.45, "A∩B", color=pal.fg)
    ax.text(5.0, 0.7, "C：最小外接框", color=pal.muted)
    ax.text(4.4, 3.8, "ρ", color=pal.c[3], size="large")
    ax.text(5.2, 2.6, "c", color=pal.fg, size="large")
    ax.set_xlim(-0.3, 8.3)
    ax.set_ylim(5.3, -0.3)
    ax.set_aspect("equal")
    _bare(ax)
    # the numbers the card quotes
    assert np.isclose(B.iou(GT, PRED), 2 / 15)
    assert np.isclose(B.giou(GT, PRED), 2 / 15 - 10 / 40)


@figure("iou-loss-slide", size=(6.4, 3.9))
def iou_loss_slide(fig, pal):
    """Ground truth A = 2x2 at the origin; a prediction B of the same shape, 0.5 lower, slides along x.
    Losses 1 - IoU, 1 - GIoU, 1 - DIoU against the centre offset (CIoU = DIoU: same aspect ratio)."""
    d = np.linspace(-5, 5, 801)
    gt = np.array([-1.0, -1.0, 1.0, 1.0])
    pred = np.stack([d - 1, np.full_like(d, -0.5), d + 1, np.full_like(d, 1.5)], -1)
    gts = np.broadcast_to(gt, pred.shape)
    losses = {
        "1 − IoU": 1 - B.iou(pred, gts),
        "1 − GIoU": 1 - B.giou(pred, gts),
        "1 − DIoU（= 1 − CIoU）": 1 - B.diou(pred, gts),
    }
    assert np.allclose(B.ciou(pred, gts), B.diou(pred, gts))
    apart = np.abs(d) >= 2
    # the claims: IoU loss is flat (= 1, zero gradient) whenever the boxes do not overlap,
    # GIoU and DIoU losses keep growing with the distance
    assert np.all(losses["1 − IoU"][apart] == 1)
    far = d >= 2
    assert np.all(np.diff(losses["1 − GIoU"][far]) > 0) and np.all(np.diff(losses["1 − DIoU（= 1 − CIoU）"][far]) > 0)
    ax = fig.subplots()
    ax.axvspan(-5, -2, color=pal.grid, alpha=0.45, lw=0)
    ax.axvspan(2, 5, color=pal.grid, alpha=0.45, lw=0)
    styles = ((pal.c[0], "-", 3.0), (pal.c[1], "--", 2.4), (pal.c[2], "-.", 2.4))
    for (label, y), (col, ls, lw) in zip(losses.items(), styles):
        ax.plot(d, y, color=col, ls=ls, lw=lw, label=label)
    ax.text(-4.8, 0.12, "不相交", color=pal.muted)
    ax.text(2.4, 0.12, "不相交", color=pal.muted)
    ax.set_xlim(-5, 5)
    ax.set_ylim(0, 2.25)
    ax.set_xlabel("B 的中心相对 A 的水平偏移")
    ax.set_ylabel("损失")
    ax.grid(True, color=pal.grid, lw=0.6)
    ax.legend(loc="upper center")


# ---------------------------------------------------------------- NMS on a synthetic scene

@functools.cache
def nms_scene():
    """Three objects (two people standing close, one car) and jittered candidate boxes around each;
    NMS is run per class (people, car)."""
    rng = np.random.default_rng(0)
    objects = np.array([[18.0, 10, 40, 62], [34, 14, 56, 66], [66, 34, 108, 60]])
    boxes, scores, owner = [], [], []
    for k, g in enumerate(objects):
        w, h = g[2] - g[0], g[3] - g[1]
        for n in range(6):
            jit = rng.normal(0, 0.07, 4) * np.array([w, h, w, h])
            boxes.append(g + jit)
            scores.append(0.95 - 0.08 * n - 0.05 * k + rng.uniform(-0.02, 0.02))
            owner.append(k)
    boxes, scores, owner = np.array(boxes), np.array(scores), np.array(owner)
    cls = np.array([0, 0, 1])[owner]
    keep = []
    for c in (0, 1):
        idx = np.flatnonzero(cls == c)
        keep += [int(idx[i]) for i in B.nms(boxes[idx], scores[idx], 0.5)]
    return objects, boxes, scores, owner, keep


@figure("nms-scene", size=(6.4, 2.9))
def nms_scene_figure(fig, pal):
    objects, boxes, scores, owner, keep = nms_scene()
    # one box per object survives, and it is the best-scoring box of that object
    assert sorted(owner[keep]) == [0, 1, 2]
    for k in range(3):
        assert scores[keep][owner[keep] == k][0] == scores[owner == k].max()
    assert B.iou(objects[0], objects[1]) < 0.5
    axes = fig.subplots(1, 2)
    for ax, title, idx in ((axes[0], f"NMS 前：{len(boxes)} 个", range(len(boxes))),
                           (axes[1], f"NMS 后：{len(keep)} 个", keep)):
        for i in idx:
            _box(ax, boxes[i], pal.c[int(owner[i])], lw=1.3 if len(idx) > 3 else 2.4,
                 alpha=0.55 + 0.45 * (scores[i] - scores.min()) / np.ptp(scores))
        if len(idx) == len(keep):
            for i in idx:
                left = owner[i] == 0
                ax.text(boxes[i][0] if left else boxes[i][2], boxes[i][1] - 2, f"{scores[i]:.2f}",
                        ha="left" if left else "right", color=pal.c[int(owner[i])])
        ax.set_xlim(10, 114)
        ax.set_ylim(74, 0)
        ax.set_aspect("equal")
        ax.set_title(title)
        _bare(ax)


# ---------------------------------------------------------------- anchors

@figure("anchors-grid", size=(6.4, 4.3))
def anchors_grid(fig, pal):
    """Faster R-CNN anchors on a 1000x600 image: one centre per stride-16 feature location,
    9 anchors (areas 128^2, 256^2, 512^2 times ratios 0.5, 1, 2) drawn at one of them."""
    W, H, s = 1000, 600, 16
    fw, fh = int(np.ceil(W / s)), int(np.ceil(H / s))
    assert (fw, fh) == (63, 38)
    xs, ys = np.meshgrid((np.arange(fw) + 0.5) * s, (np.arange(fh) + 0.5) * s)
    ax = fig.subplots()
    ax.plot(xs.ravel(), ys.ravel(), ".", color=pal.muted, ms=1.6, zorder=1)
    cx, cy = xs[fh // 2, fw // 2], ys[fh // 2, fw // 2]
    anchors = B.anchors_at(cx, cy, (128, 256, 512), (0.5, 1.0, 2.0))
    assert len(anchors) == 9
    assert np.allclose(B.area(anchors), np.repeat([128.0 ** 2, 256.0 ** 2, 512.0 ** 2], 3))
    styles = (":", "--", "-")
    for n, a in enumerate(anchors):
        _box(ax, a, pal.c[n % 3], lw=2, ls=styles[n // 3])
    ax.plot([cx], [cy], "o", color=pal.fg, ms=6, zorder=5)
    ax.add_patch(Rectangle((0, 0), W, H, facecolor="none", edgecolor=pal.fg, lw=1.2))
    for n, lab in enumerate(("h:w = 1:2", "1:1", "2:1")):
        ax.plot([], [], color=pal.c[n], lw=2.4, label=lab)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3)
    ax.set_xlim(-20, W + 20)
    ax.set_ylim(H + 70, -70)
    ax.set_aspect("equal")
    _bare(ax)
    ax.set_title(f"{fw}×{fh} 个位置 × 9 = {fw * fh * 9} 个锚框")


# ---------------------------------------------------------------- FPN levels

@figure("fpn-levels", size=(6.4, 3.6))
def fpn_levels(fig, pal):
    """The RoI level k = floor(4 + log2(sqrt(wh)/224)) clamped to P2..P5, against the box size."""
    size = np.geomspace(16, 1400, 1200)
    raw = 4 + np.log2(size / 224)
    k = B.fpn_level(size, size)
    edges = [112, 224, 448]
    assert [int(B.fpn_level(e - 1e-9, e - 1e-9)) for e in edges] == [2, 3, 4]
    assert [int(B.fpn_level(e, e)) for e in edges] == [3, 4, 5]
    ax = fig.subplots()
    ax.plot(size, raw, color=pal.muted, ls="--", lw=1.6, label="$k_0+\\log_2(\\sqrt{wh}/224)$")
    ax.plot(size, k, color=pal.c[0], lw=2.8, label="取整并截断到 2…5")
    for e in edges:
        ax.axvline(e, color=pal.grid, lw=1)
    for lvl, (lo, hi) in zip(range(2, 6), ((16, 112), (112, 224), (224, 448), (448, 1400))):
        ax.text(np.sqrt(lo * hi), lvl + 0.18, f"P{lvl}", color=pal.c[0], ha="center")
    ax.set_xscale("log")
    ax.set_xticks([32, 112, 224, 448, 1000])
    ax.set_xticklabels(["32", "112", "224", "448", "1000"])
    ax.set_yticks([1, 2, 3, 4, 5, 6])
    ax.set_ylim(0.6, 6.6)
    ax.set_xlim(16, 1400)
    ax.set_xlabel("RoI 边长 $\\sqrt{wh}$（输入图像素）")
    ax.set_ylabel("层级 k")
    ax.grid(True, axis="y", color=pal.grid, lw=0.6)
    ax.legend(loc="upper left")


# ---------------------------------------------------------------- AP: VOC 11-point vs COCO 101-point

# The ranked list of the worked example on {#ap-interpolation}: 10 detections, 5 ground-truth boxes.
RANKED_TP = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0], bool)
N_GT = 5


@figure("pr-curve-ap", size=(6.4, 3.4))
def pr_curve_ap(fig, pal):
    prec, rec = B.pr_curve(RANKED_TP, N_GT)
    env = B.envelope(prec)
    ap11, v11 = B.ap_sampled(prec, rec, np.linspace(0, 1, 11))
    ap101, v101 = B.ap_sampled(prec, rec, np.linspace(0, 1, 101))
    assert np.isclose(ap11, (5 + 2 * 3 / 4 + 2 * 4 / 7) / 11)
    assert np.isclose(ap101, (41 + 20 * 3 / 4 + 20 * 4 / 7) / 101)
    axes = fig.subplots(1, 2, sharey=True)
    # the interpolated curve as a step function: precision env[i] on (rec[i-1], rec[i]]
    r_step = np.concatenate([[0.0], np.repeat(rec, 2)[:-1]])
    p_step = np.repeat(env, 2)
    for ax in axes:
        ax.plot(rec, prec, "o", color=pal.muted, ms=5, zorder=4, label="每个检测后的 (R, P)")
        ax.plot(r_step, p_step, color=pal.c[0], lw=2, zorder=3, label="插值后的 P")
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(0, 1.08)
        ax.set_xlabel("召回率 R")
        ax.grid(True, color=pal.grid, lw=0.6)
    r11 = np.linspace(0, 1, 11)
    axes[0].bar(r11, v11, width=1 / 11 * 0.55, color=pal.c[1], alpha=0.8, zorder=2)
    axes[0].set_title(f"VOC07 11 点：{ap11:.3f}")
    r101 = np.linspace(0, 1, 101)
    axes[1].bar(r101, v101, width=0.01, align="edge", color=pal.c[2], alpha=0.55, zorder=2)
    axes[1].set_title(f"COCO 101 点：{ap101:.3f}")
    axes[0].set_ylabel("精确率 P")


# ---------------------------------------------------------------- focal loss: who contributes the loss

@functools.cache
def anchor_population():
    """A synthetic image's anchors after some training: 100 positives with middling p_t and
    100,000 negatives, nearly all easy (p_t = 1 - p, with p the foreground probability)."""
    rng = np.random.default_rng(0)
    pos = rng.beta(3, 2, 100)                 # p_t of the positives: mean 0.6
    neg = 1 - rng.beta(1, 40, 100_000)        # p_t of the negatives: mean about 0.98
    return pos, neg


def loss_shares(gamma, alpha=0.25):
    """Share of the summed loss from positives, other negatives (p_t < 0.9) and easy negatives
    (p_t >= 0.9). gamma = 0 is plain cross-entropy (no alpha)."""
    pos, neg = anchor_population()
    a_pos, a_neg = (alpha, 1 - alpha) if gamma > 0 else (1.0, 1.0)
    lp = -a_pos * (1 - pos) ** gamma * np.log(pos)
    ln = -a_neg * (1 - neg) ** gamma * np.log(neg)
    hard = neg < 0.9
    parts = np.array([lp.sum(), ln[hard].sum(), ln[~hard].sum()])
    return parts / parts.sum()


GAMMAS = (0, 0.5, 1, 2, 5)


@figure("focal-loss-shares", size=(6.4, 3.3))
def focal_loss_shares(fig, pal):
    shares = np.array([loss_shares(g) for g in GAMMAS])
    # the numbers the card {#focal-loss-detection} quotes
    assert round(shares[0, 2] * 100) == 90 and round(shares[0, 0] * 100) == 2
    assert round(shares[3, 2] * 100) == 37 and round(shares[3, 0] * 100) == 41
    ax = fig.subplots()
    y = np.arange(len(GAMMAS))[::-1]
    left = np.zeros(len(GAMMAS))
    labels = ("正样本", "负样本 $p_t$<0.9", "易负样本 $p_t$≥0.9")
    for j, (lab, col) in enumerate(zip(labels, (pal.c[3], pal.c[1], pal.c[0]))):
        ax.barh(y, shares[:, j], left=left, color=col, height=0.62, label=lab)
        left += shares[:, j]
    for yy, s in zip(y, shares):
        ax.text(1.02, yy, f"{s[2]:.0%}", va="center", color=pal.c[0])
    ax.set_yticks(y)
    ax.set_yticklabels(["CE" if g == 0 else f"γ={g}" for g in GAMMAS])
    ax.set_xlim(0, 1.13)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_xticklabels(["0", "25%", "50%", "75%", "100%"])
    ax.set_xlabel("占总损失的比例（右侧数字：易负样本）")
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.3), ncol=3, handlelength=1.2, columnspacing=1.0)


# ---------------------------------------------------------------- RoI Pooling vs RoIAlign

ROI = (0.8, 1.3, 5.7, 5.2)   # x1, y1, x2, y2 on the feature map (image coordinates / stride)
POOLED = 2                   # 2x2 output bins, to keep the picture readable


def roi_pool_bins(roi, pooled):
    """Caffe / Fast R-CNN RoI Pooling: round the RoI to feature cells, then split the cells into
    bins with floor / ceil, so bins are whole cells (and may overlap or differ in size)."""
    x1, y1, x2, y2 = (int(np.floor(v + 0.5)) for v in roi)
    rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
    bins = []
    for ph in range(pooled):
        for pw in range(pooled):
            hs, he = int(np.floor(ph * rh / pooled)) + y1, int(np.ceil((ph + 1) * rh / pooled)) + y1
            ws, we = int(np.floor(pw * rw / pooled)) + x1, int(np.ceil((pw + 1) * rw / pooled)) + x1
            bins.append((ws, hs, we, he))  # cells ws..we-1, hs..he-1
    return (x1, y1, x2, y2), bins


def roi_align_points(roi, pooled, samples=2):
    """RoIAlign: exact bins, `samples` x `samples` regularly spaced points in each bin."""
    x1, y1, x2, y2 = roi
    bw, bh = (x2 - x1) / pooled, (y2 - y1) / pooled
    pts = []
    for ph in range(pooled):
        for pw in range(pooled):
            for iy in range(samples):
                for ix in range(samples):
                    pts.append((x1 + pw * bw + (ix + 0.5) * bw / samples, y1 + ph * bh + (iy + 0.5) * bh / samples))
    return np.array(pts)


@figure("roialign-grid", size=(6.4, 3.6))
def roialign_grid(fig, pal):
    n = 7
    q, bins = roi_pool_bins(ROI, POOLED)
    assert q == (1, 1, 6, 5)
    pts = roi_align_points(ROI, POOLED)
    assert len(pts) == POOLED ** 2 * 4
    axes = fig.subplots(1, 2)
    for ax in axes:
        for t in range(n + 1):   # feature cells centred on integers: cell i spans i-0.5 .. i+0.5
            ax.plot([t - 0.5, t - 0.5], [-0.5, n - 0.5], color=pal.grid, lw=1, zorder=1)
            ax.plot([-0.5, n - 0.5], [t - 0.5, t - 0.5], color=pal.grid, lw=1, zorder=1)
        _box(ax, ROI, pal.c[3], lw=2, ls="--", z=6)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(n - 0.4, -0.6)
        ax.set_aspect("equal")
        _bare(ax)
    cols = (pal.c[0], pal.c[1], pal.c[2], pal.c[4])
    for (ws, hs, we, he), col in zip(bins, cols):
        axes[0].add_patch(Rectangle((ws - 0.5, hs - 0.5), we - ws, he - hs, facecolor=col, alpha=0.22, edgecolor=col, lw=2, zorder=2))
    axes[0].set_title("RoI Pooling：取整")
    x1, y1, x2, y2 = ROI
    axes[1].plot([x1 + (x2 - x1) / 2] * 2, [y1, y2], color=pal.c[3], lw=1.4, zorder=5)
    axes[1].plot([x1, x2], [y1 + (y2 - y1) / 2] * 2, color=pal.c[3], lw=1.4, zorder=5)
    for b in range(POOLED ** 2):
        p = pts[4 * b:4 * b + 4]
        axes[1].plot(p[:, 0], p[:, 1], "o", color=cols[b], ms=6, zorder=7)
    # the four feature cells one sample point interpolates from
    sx, sy = pts[0]
    for cx in (np.floor(sx), np.floor(sx) + 1):
        for cy in (np.floor(sy), np.floor(sy) + 1):
            axes[1].plot([sx, cx], [sy, cy], color=pal.muted, lw=1, zorder=4)
            axes[1].plot([cx], [cy], "s", color=pal.muted, ms=4, zorder=4)
    axes[1].set_title("RoIAlign：不取整")
