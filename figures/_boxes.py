"""Box geometry shared by the detection and segmentation figures (imported as `import _boxes`).

Boxes are (x1, y1, x2, y2) in pixels, as NumPy arrays of shape (..., 4); every function is
vectorised over the leading dimensions. Each one follows the definition in its paper, so the
numbers the cards quote can be recomputed from here.
"""
import numpy as np


def area(b):
    b = np.asarray(b, float)
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def _inter_union(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    return inter, area(a) + area(b) - inter


def enclosing(a, b):
    """The smallest axis-aligned box C that contains both a and b."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.stack([np.minimum(a[..., 0], b[..., 0]), np.minimum(a[..., 1], b[..., 1]),
                     np.maximum(a[..., 2], b[..., 2]), np.maximum(a[..., 3], b[..., 3])], -1)


def iou(a, b):
    inter, union = _inter_union(a, b)
    return inter / union


def giou(a, b):
    """GIoU (Rezatofighi et al., 2019): IoU - |C minus (A union B)| / |C|."""
    inter, union = _inter_union(a, b)
    c = area(enclosing(a, b))
    return inter / union - (c - union) / c


def _centre_term(a, b):
    """rho^2 / c^2: squared centre distance over the squared diagonal of the enclosing box."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ca = (a[..., :2] + a[..., 2:]) / 2
    cb = (b[..., :2] + b[..., 2:]) / 2
    rho2 = ((ca - cb) ** 2).sum(-1)
    c = enclosing(a, b)
    diag2 = (c[..., 2] - c[..., 0]) ** 2 + (c[..., 3] - c[..., 1]) ** 2
    return rho2 / diag2


def diou(a, b):
    """DIoU (Zheng et al., 2020): IoU - rho^2 / c^2."""
    return iou(a, b) - _centre_term(a, b)


def ciou(a, b):
    """CIoU (Zheng et al., 2020): DIoU - alpha v, v the aspect-ratio term, alpha = v / (1 - IoU + v).
    `a` is the prediction, `b` the ground truth (v is symmetric, so the order does not matter)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    i = iou(a, b)
    wa, ha = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    wb, hb = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    v = 4 / np.pi ** 2 * (np.arctan(wb / hb) - np.arctan(wa / ha)) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(v > 0, v / (1 - i + v), 0.0)
    return i - _centre_term(a, b) - alpha * v


def nms(boxes, scores, thr):
    """Greedy NMS for one class: keep the highest score, drop every box with IoU > thr with it, repeat.
    Returns the kept indices in the order they were kept."""
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        order = [j for j in order if iou(boxes[i], boxes[j]) <= thr]
    return keep


def soft_nms(boxes, scores, sigma=0.5):
    """Gaussian Soft-NMS (Bodla et al., 2017): instead of deleting, s_j <- s_j exp(-IoU^2 / sigma).
    Returns (index, final score) pairs in the order the boxes were picked."""
    s = np.asarray(scores, float).copy()
    left = list(range(len(s)))
    out = []
    while left:
        i = max(left, key=lambda j: s[j])
        left.remove(i)
        out.append((i, float(s[i])))
        for j in left:
            s[j] *= np.exp(-iou(boxes[i], boxes[j]) ** 2 / sigma)
    return out


def pr_curve(is_tp, n_gt):
    """Precision and recall after each detection of a list already sorted by score."""
    tp = np.cumsum(is_tp)
    fp = np.cumsum(~np.asarray(is_tp, bool))
    return tp / (tp + fp), tp / n_gt


def envelope(prec):
    """Interpolated precision: at each point, the best precision at this recall or higher."""
    return np.maximum.accumulate(prec[::-1])[::-1]


def ap_sampled(prec, rec, thresholds):
    """Mean interpolated precision at the given recall thresholds (0 where a recall is never reached):
    VOC2007 uses 11 thresholds 0, 0.1, ..., 1; COCO 101 thresholds 0, 0.01, ..., 1."""
    env = envelope(prec)
    vals = []
    for r in thresholds:
        hit = rec >= r - 1e-12
        vals.append(env[hit].max() if hit.any() else 0.0)
    return float(np.mean(vals)), np.array(vals)


def ap_area(prec, rec):
    """VOC2010+ AP: exact area under the interpolated (monotone) precision-recall curve."""
    env = envelope(prec)
    r = np.concatenate([[0.0], rec])
    return float(np.sum((r[1:] - r[:-1]) * env))


def fpn_level(w, h, k0=4, kmin=2, kmax=5, canonical=224):
    """FPN (Lin et al., 2017) RoI level: floor(k0 + log2(sqrt(wh) / 224)), clamped to [kmin, kmax]."""
    k = np.floor(k0 + np.log2(np.sqrt(np.asarray(w, float) * np.asarray(h, float)) / canonical))
    return np.clip(k, kmin, kmax).astype(int)


def anchors_at(cx, cy, scales, ratios):
    """Anchors centred at (cx, cy): area scale^2, ratio r = h / w, so w = s / sqrt(r), h = s sqrt(r)."""
    out = []
    for s in scales:
        for r in ratios:
            w, h = s / np.sqrt(r), s * np.sqrt(r)
            out.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return np.array(out)
