"""Figures for content/perception.md (三维感知与跟踪).

Everything is computed: a box projected with the same K, R, t as the card's worked example, a
Kalman filter actually run on a seeded synthetic trajectory, farthest point sampling actually
run on a seeded synthetic point cloud.
"""
import functools

import numpy as np

from deckgen.figure_api import figure

# ---------------------------------------------------------------- pinhole camera

# The card's camera: f = 1000 px, principal point (640, 360), 1280 x 720 image, mounted 1.5 m
# above the ground, looking straight ahead. Vehicle frame: x forward, y left, z up; camera
# frame: x right, y down, z forward.
K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
R = np.array([[0.0, -1, 0], [0, 0, -1], [1, 0, 0]])
CAM_HEIGHT = 1.5
T = -R @ np.array([0, 0, CAM_HEIGHT])          # t = -R C, C = camera centre in the vehicle frame
IMG_W, IMG_H = 1280, 720


def project(points):
    """(n, 3) vehicle-frame points -> (n, 2) pixels and (n,) depths."""
    cam = points @ R.T + T
    uvw = cam @ K.T
    return uvw[:, :2] / uvw[:, 2:3], cam[:, 2]


_uv, _z = project(np.array([[10.0, 2.0, 0.0]]))
assert np.allclose(_uv, [[440, 510]]) and np.isclose(_z[0], 10)


def box_corners(cx, cy, length, width, height, yaw):
    """8 corners of a box standing on the ground (z from 0 to height), vehicle frame."""
    dx = np.array([1, 1, -1, -1]) * length / 2
    dy = np.array([1, -1, -1, 1]) * width / 2
    c, s = np.cos(yaw), np.sin(yaw)
    x = cx + c * dx - s * dy
    y = cy + s * dx + c * dy
    bottom = np.stack([x, y, np.zeros(4)], axis=1)
    top = bottom + [0, 0, height]
    return np.concatenate([bottom, top])


@figure("pinhole-box", size=(6.4, 4.0))
def pinhole_box(fig, pal):
    """A car-sized box (4.5 x 1.8 x 1.7 m) 9 m ahead, 2.5 m to the right, yawed 30 degrees, and
    the lane lines of a 3.5 m wide lane, all projected with the card's K, R, t."""
    ax = fig.subplots()
    corners = box_corners(9.0, -2.5, 4.5, 1.8, 1.7, np.deg2rad(30))
    uv, z = project(corners)
    assert (z > 0).all()
    assert ((uv >= 0) & (uv <= [IMG_W, IMG_H])).all()
    ax.plot([0, IMG_W, IMG_W, 0, 0], [0, 0, IMG_H, IMG_H, 0], color=pal.muted, lw=1.2)
    # lane lines on the ground: parallel in 3D, they meet at the principal point (level camera)
    for y in (-5.25, -1.75, 1.75, 5.25):
        line = np.stack([np.linspace(1.5, 200, 300), np.full(300, y), np.zeros(300)], axis=1)
        luv, _ = project(line)
        ax.plot(luv[:, 0], luv[:, 1], color=pal.muted, lw=1.2, ls="--")
    ax.axhline(K[1, 2], color=pal.grid, lw=1)
    ax.text(12, K[1, 2] - 10, "地平线 v = 360", ha="left", va="bottom", color=pal.muted)
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
    front = {(0, 1), (4, 5), (0, 4), (1, 5)}       # the box's +x face
    for a, b in edges:
        col = pal.c[3] if (a, b) in front else pal.c[0]
        ax.plot(uv[[a, b], 0], uv[[a, b], 1], color=col, lw=2.4)
    # the worked example's ground point
    ax.plot(*_uv[0], "o", color=pal.c[2], ms=8)
    ax.annotate("(10, 2, 0) → (440, 510)", _uv[0], xytext=(0, -14), textcoords="offset points",
                color=pal.c[2], ha="center", va="top")
    ax.set_xlim(-20, IMG_W + 20)
    ax.set_ylim(IMG_H + 20, -20)
    ax.set_aspect("equal")
    ax.set_xticks([0, 640, 1280])
    ax.set_yticks([0, 360, 720])
    ax.set_xlabel("u（像素）")
    ax.set_ylabel("v（像素）")
    for sp in ax.spines.values():
        sp.set_visible(False)


# ---------------------------------------------------------------- Kalman filter, 1-D constant velocity

KF_STEPS, KF_Q, KF_R = 60, 0.01, 4.0          # steps, acceleration-noise variance, measurement variance


def kalman_cv(z, q=KF_Q, r=KF_R, dt=1.0):
    """Constant-velocity Kalman filter on position measurements z. Returns means, covariances."""
    F = np.array([[1, dt], [0, 1]])
    G = np.array([[dt ** 2 / 2], [dt]])
    Q = q * G @ G.T
    H = np.array([[1.0, 0]])
    x = np.array([z[0], 0.0])
    P = np.diag([r, 4.0])
    xs, Ps = [x], [P]
    for zk in z[1:]:
        x, P = F @ x, F @ P @ F.T + Q                      # predict
        S = H @ P @ H.T + r
        Kg = P @ H.T / S                                    # gain, (2, 1)
        x = x + (Kg * (zk - H @ x)).ravel()                 # update
        P = (np.eye(2) - Kg @ H) @ P
        xs.append(x)
        Ps.append(P)
    return np.array(xs), np.array(Ps)


@functools.cache
def kalman_run(seed=0):
    rng = np.random.default_rng(seed)
    acc = rng.normal(0, np.sqrt(KF_Q), KF_STEPS)
    vel = 0.5 + np.cumsum(acc)
    pos = np.cumsum(vel) - vel[0]
    z = pos + rng.normal(0, np.sqrt(KF_R), KF_STEPS)
    xs, Ps = kalman_cv(z)
    rmse_z = float(np.sqrt(np.mean((z - pos) ** 2)))
    rmse_x = float(np.sqrt(np.mean((xs[:, 0] - pos) ** 2)))
    return pos, z, xs, Ps, rmse_z, rmse_x


_k = kalman_run()
_inside = np.abs(_k[2][:, 0] - _k[0]) < 2 * np.sqrt(_k[3][:, 0, 0])
assert _inside.sum() == 56 and len(_inside) == 60
assert (round(_k[4], 2), round(_k[5], 2)) == (2.03, 1.29), (_k[4], _k[5])


@figure("kalman-track", size=(6.4, 4.6))
def kalman_track(fig, pal):
    pos, z, xs, Ps, rmse_z, rmse_x = kalman_run()
    t = np.arange(len(pos))
    sd = np.sqrt(Ps[:, 0, 0])
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=(1.3, 1))
    ax1.plot(t, z, "o", ms=4, color=pal.c[1], label="测量")
    ax1.plot(t, pos, color=pal.fg, lw=1.6, label="真值")
    ax1.plot(t, xs[:, 0], color=pal.c[0], lw=2.2, label="滤波估计")
    ax1.set_ylabel("位置")
    ax1.grid(True, color=pal.grid, lw=0.6)
    ax1.legend(loc="upper left", ncol=3, handlelength=1.2, columnspacing=1.0)
    lo, hi = min(z.min(), pos.min()), max(z.max(), pos.max())
    ax1.set_ylim(lo - 2, hi + 0.35 * (hi - lo))
    ax2.fill_between(t, -2 * sd, 2 * sd, color=pal.c[0], alpha=0.25, lw=0)
    ax2.plot(t, z - pos, "o", ms=4, color=pal.c[1])
    ax2.plot(t, xs[:, 0] - pos, color=pal.c[0], lw=2)
    ax2.axhline(0, color=pal.muted, lw=0.8)
    ax2.set_ylabel("误差")
    ax2.set_xlabel("时间步")
    ax2.grid(True, color=pal.grid, lw=0.6)
    ax2.set_ylim(-6.5, 6.5)


# ---------------------------------------------------------------- farthest point sampling

def farthest_point_sampling(points, m, start=0):
    """Greedy FPS: each new centre is the point farthest from the centres chosen so far."""
    chosen = [start]
    dist = np.linalg.norm(points - points[start], axis=1)
    for _ in range(m - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return np.array(chosen)


def coverage_radius(points, centres):
    """Largest distance from any point to its nearest centre."""
    d = np.linalg.norm(points[:, None, :] - points[centres][None, :, :], axis=2)
    return float(d.min(axis=1).max())


@functools.cache
def fps_experiment(seed=0, m=16):
    rng = np.random.default_rng(seed)
    dense = rng.normal([0.3, 0.35], 0.08, (500, 2))          # a dense blob (a near object)
    sparse = rng.uniform(0, 1, (150, 2))                      # sparse background
    pts = np.concatenate([dense, sparse])
    fps = farthest_point_sampling(pts, m)
    rnd = rng.choice(len(pts), m, replace=False)
    return pts, fps, rnd, coverage_radius(pts, fps), coverage_radius(pts, rnd)


_f = fps_experiment()
assert (round(_f[3], 2), round(_f[4], 2)) == (0.21, 0.65), (_f[3], _f[4])


@figure("fps-vs-random", size=(6.4, 4.0))
def fps_vs_random(fig, pal):
    pts, fps, rnd, r_fps, r_rnd = fps_experiment()
    axes = fig.subplots(1, 2)
    for ax, idx, r, title in zip(axes, (fps, rnd), (r_fps, r_rnd), ("最远点采样", "随机采样")):
        ax.scatter(pts[:, 0], pts[:, 1], s=4, color=pal.muted, lw=0)
        ax.scatter(pts[idx, 0], pts[idx, 1], s=46, color=pal.c[3], zorder=3)
        ax.set_title(title)
        ax.set_xlabel(f"覆盖半径 {r:.2f}")
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        for sp in ax.spines.values():
            sp.set_color(pal.grid)
            sp.set_visible(True)
