"""Synthetic interaction videos: the built-in default of the video system (``benchmark="classic"``, below; the
``families`` benchmark lives in :mod:`.families` and is rendered through :func:`render` too).

Deterministic (video i of seed s is the same whatever the dataset size), numpy only, about a millisecond per
video. Each video: ``frames`` frames of ``size``×``size`` RGB, a smooth textured background larger than the
frame (so the camera can pan), two textured objects A and B and up to ``distractors`` static distractors,
with exact ground-truth boxes (consistent object order within a video, shuffled between videos). The classes
need different relations to tell apart: relative motion of A and B (approach / move away / push / pass by /
circle / move together), motion against a static background (A moves left / right), and motion of the whole
scene (camera pans), which only the background reveals apart from "move together".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

CLASSES = [
    "A approaches B",
    "A moves away from B",
    "A pushes B",
    "A passes B without contact",
    "A and B move together",
    "A circles B",
    "camera pans left",
    "camera pans right",
    "A moves left",
    "A moves right",
    "nothing happens",
]
# horizontal flip: direction-sensitive classes swap (the rest keep their label)
FLIP_LABELS = {6: 7, 7: 6, 8: 9, 9: 8}
CAMERA_CLASSES = [6, 7]
BENCHMARKS = ("classic", "families")
MOTION_CLASSES = [0, 1, 2, 3, 5, 8, 9]


@dataclass
class SyntheticConfig:
    frames: int = 16
    size: int = 112
    distractors: int = 2    # at most this many static distractor objects (0..distractors per video)
    noise: float = 4.0      # pixel noise (0-255 scale)
    seed: int = 0
    benchmark: str = "classic"   # classic (the 11 classes below) or families (see .families)
    box_order: str = "shuffled"  # box columns in a new random order every frame, or "video": one order per video

    def __post_init__(self):
        if self.benchmark not in BENCHMARKS:
            raise InputError(f"benchmark must be one of {', '.join(BENCHMARKS)}, not {self.benchmark!r}")
        if self.benchmark == "families" and self.frames < 8:
            raise InputError(f"the families benchmark needs at least 8 frames (a path, then a rest), got {self.frames}")
        if self.box_order not in ("shuffled", "video"):
            raise InputError(f"box_order must be shuffled or video, not {self.box_order!r}")
        if self.size < 96 or self.frames < 2:
            raise InputError(f"synthetic videos need frames >= 2 and size >= 96 pixels (motions are laid out in "
                             f"pixels), got {self.frames} frames of {self.size}")


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    boxes: np.ndarray   # (T, K, 4) float32 pixel x1, y1, x2, y2 (K objects, same order in every frame)
    label: int
    roles: list         # roles[t][k]: role of box column k in frame t ("A", "B", "distractor", ...)
    scene: dict = field(default_factory=dict)  # what else the generator placed (families: patch corners)

    def track(self, role: str) -> np.ndarray:
        """(T, 4) boxes of the (first) object with ``role``, frame by frame, whatever the column order."""
        return np.stack([self.boxes[t, r.index(role)] for t, r in enumerate(self.roles)])


def _texture(rng: np.random.Generator, h: int, w: int, smooth: int) -> np.ndarray:
    """A smooth colour texture: low-resolution noise upsampled bilinearly, plus sinusoidal stripes."""
    small = rng.uniform(0, 255, size=(max(2, h // smooth + 2), max(2, w // smooth + 2), 3))
    ys = np.linspace(0, small.shape[0] - 1.001, h)
    xs = np.linspace(0, small.shape[1] - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    tex = (small[y0][:, x0] * (1 - fy) * (1 - fx) + small[y0 + 1][:, x0] * fy * (1 - fx)
           + small[y0][:, x0 + 1] * (1 - fy) * fx + small[y0 + 1][:, x0 + 1] * fy * fx)
    freq, phase = rng.uniform(0.1, 0.5, 2), rng.uniform(0, 2 * np.pi)
    stripes = 40 * np.sin(freq[0] * np.arange(h)[:, None] + freq[1] * np.arange(w)[None, :] + phase)
    return np.clip(tex + stripes[..., None], 0, 255)


def _sprite(rng: np.random.Generator, s: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured object: (s, s, 3) colours and a (s, s) shape mask (square, disc or diamond)."""
    base = rng.uniform(30, 225, 3)
    pattern = _texture(rng, s, s, 4) * 0.25 + base * 0.75
    return pattern, shape_mask(s, int(rng.integers(3)))


def shape_mask(s: int, kind: int) -> np.ndarray:
    """(s, s) mask of a square (0), disc (1) or diamond (2)."""
    yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
    return np.ones((s, s), bool) if kind == 0 else (xx ** 2 + yy ** 2 <= (s / 2) ** 2) if kind == 1 \
        else (np.abs(xx) + np.abs(yy) <= s / 2)


def _trajectories(rng: np.random.Generator, label: int, cfg: SyntheticConfig, sa: int, sb: int):
    """World positions (top-left corners) of A and B per frame, and the camera offset per frame."""
    t = np.arange(cfg.frames, dtype=float)
    lo, hi = 4.0, cfg.size - 4.0
    T = cfg.frames - 1
    cam = np.zeros((cfg.frames, 2))
    gap = (sa + sb) / 2

    def place():
        return rng.uniform(lo + 8, hi - 8 - max(sa, sb), 2)

    b = np.repeat(place()[None], cfg.frames, 0)
    if label in (0, 1, 2):  # A towards (or from) B along a random direction
        ang = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(ang), np.sin(ang)])
        b[:] = rng.uniform(lo + 30, hi - 30 - sb, 2)
        near, far = gap + rng.uniform(6, 10), gap + rng.uniform(30, 40)
        if label == 2:
            near = gap - 2  # contact
        start, end = (far, near) if label in (0, 2) else (near, far)
        if label == 2:  # A reaches B halfway, then both move on
            half = cfg.frames // 2
            dist = np.where(t <= half, far + (near - far) * t / half, near)
            push = np.where(t > half, (t - half) * rng.uniform(2.0, 3.0), 0.0)
            b = b + push[:, None] * d
            a = b - dist[:, None] * d
        else:
            dist = start + (end - start) * t / T
            a = b - dist[:, None] * d
    elif label == 3:  # pass by: a straight line offset from B
        ang = rng.uniform(0, 2 * np.pi)
        d, normal = np.array([np.cos(ang), np.sin(ang)]), np.array([-np.sin(ang), np.cos(ang)])
        b[:] = rng.uniform(lo + 30, hi - 30 - sb, 2)
        offset = (gap + rng.uniform(8, 14)) * rng.choice([-1, 1])
        along = np.linspace(-35, 35, cfg.frames)
        a = b + offset * normal + along[:, None] * d
    elif label == 4:  # move together
        v = rng.uniform(1.5, 2.5) * np.array([np.cos(a0 := rng.uniform(0, 2 * np.pi)), np.sin(a0)])
        b[:] = rng.uniform(lo + 25, hi - 25 - sb, 2)
        off = (gap + rng.uniform(4, 12)) * np.array([np.cos(a1 := rng.uniform(0, 2 * np.pi)), np.sin(a1)])
        b = b[0] + t[:, None] * v - v * T / 2
        a = b + off
    elif label == 5:  # circle B
        b[:] = rng.uniform(lo + 32, hi - 32 - sb, 2)
        r = gap + rng.uniform(6, 12)
        ang = rng.uniform(0, 2 * np.pi) + rng.choice([-1, 1]) * np.linspace(0, 1.6 * np.pi, cfg.frames)
        a = b + r * np.stack([np.cos(ang), np.sin(ang)], 1)
    elif label in (6, 7):  # camera pans: content moves right (pan left) or left (pan right)
        a = np.repeat(place()[None], cfg.frames, 0)
        speed = rng.uniform(2.0, 3.0)
        cam[:, 0] = (-1 if label == 6 else 1) * speed * (t - T / 2)
    elif label in (8, 9):  # A moves horizontally, B and camera static
        speed = rng.uniform(2.0, 3.0) * (-1 if label == 8 else 1)
        a = place()[None] + np.stack([speed * (t - T / 2), rng.uniform(-0.2, 0.2) * t], 1)
    else:  # nothing happens
        a = np.repeat(place()[None], cfg.frames, 0)
    return a, b, cam


def render(index: int, cfg: SyntheticConfig = SyntheticConfig(), label: int | None = None) -> Video:
    """Video ``index`` of the dataset with seed ``cfg.seed`` (label ``index % classes`` unless given); the
    ``families`` benchmark is rendered by :mod:`.families`."""
    if cfg.benchmark == "families":
        from .families import render_family

        return render_family(index, cfg, label)
    rng = np.random.default_rng([cfg.seed, index])
    label = index % len(CLASSES) if label is None else label
    s, T = cfg.size, cfg.frames
    sa, sb = (int(v) for v in rng.integers(14, 25, 2))
    for _ in range(100):  # redraw until A and B stay inside the frame throughout
        a, b, cam = _trajectories(rng, label, cfg, sa, sb)
        inside = [((p - cam) >= 0).all() and ((p - cam) <= s - size).all() for p, size in ((a, sa), (b, sb))]
        if all(inside):
            break
    sprites = [_sprite(rng, sa), _sprite(rng, sb)]
    roles = ["A", "B"]
    paths = [a, b]
    for _ in range(int(rng.integers(0, cfg.distractors + 1))):
        sd = int(rng.integers(10, 18))
        sprites.append(_sprite(rng, sd))
        paths.append(np.repeat(rng.uniform(4, s - 4 - sd, 2)[None], T, 0))
        roles.append("distractor")
    margin = int(np.ceil(np.abs(cam).max())) + 2
    world = 0.5 * _texture(rng, s + 2 * margin, s + 2 * margin, int(rng.integers(6, 16))) + 64  # muted
    return draw(rng, cfg, world, margin, cam, sprites, paths, roles, label)


def draw(rng: np.random.Generator, cfg: SyntheticConfig, world: np.ndarray, margin: int, cam: np.ndarray,
         sprites: list, paths: list, roles: list[str], label: int) -> Video:
    """Frames of sprites moving on ``world`` (seen through a camera at ``margin + cam``), their boxes and pixel
    noise. Sprites are drawn in reverse role order (the first on top). Box columns: one random order per video
    (``box_order="video"``), or a new random order in every frame (``"shuffled"``, the default: no column
    identifies an object across frames, as with detector proposals)."""
    s, T, k_all = cfg.size, cfg.frames, len(sprites)
    orders = [rng.permutation(k_all)] * T if cfg.box_order == "video" else [rng.permutation(k_all) for _ in range(T)]
    frames = np.empty((T, s, s, 3), np.float64)
    boxes = np.zeros((T, k_all, 4), np.float32)
    for f in range(T):
        ox, oy = margin + cam[f, 0], margin + cam[f, 1]
        x0, y0 = int(round(ox)), int(round(oy))
        frame = world[y0:y0 + s, x0:x0 + s].copy()
        col_of = np.argsort(orders[f])  # column of sprite k in this frame
        for k in reversed(range(k_all)):
            colours, mask = sprites[k]
            px, py = (int(round(v)) for v in paths[k][f] - cam[f])
            size = mask.shape[0]
            xa, ya, xb, yb = max(px, 0), max(py, 0), min(px + size, s), min(py + size, s)
            if xa < xb and ya < yb:
                m = mask[ya - py:yb - py, xa - px:xb - px]
                frame[ya:yb, xa:xb][m] = colours[ya - py:yb - py, xa - px:xb - px][m]
            boxes[f, col_of[k]] = [np.clip(px, 0, s), np.clip(py, 0, s), np.clip(px + size, 0, s),
                                   np.clip(py + size, 0, s)]
        frames[f] = frame
    if cfg.noise:
        frames += rng.normal(0, cfg.noise, frames.shape)
    return Video(np.clip(frames, 0, 255).astype(np.uint8), boxes, label,
                 [[roles[k] for k in order] for order in orders])


def classes_of(cfg: SyntheticConfig) -> list[str]:
    """Class names of the configured benchmark."""
    if cfg.benchmark == "families":
        from .families import CLASSES as FAMILY_CLASSES

        return list(FAMILY_CLASSES)
    return list(CLASSES)


def class_groups(cfg: SyntheticConfig) -> list[str] | None:
    """The family of every class (families benchmark), or None."""
    if cfg.benchmark == "families":
        from .families import CLASS_FAMILY, FAMILIES

        return [FAMILIES[k].name for k in CLASS_FAMILY]
    return None


def splits(n: int, fractions=(0.7, 0.15, 0.15)) -> dict[str, list[int]]:
    """Video indices of train / val / test: consecutive blocks, each class-balanced (labels cycle)."""
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return {"train": list(range(n_train)), "val": list(range(n_train, n_train + n_val)),
            "test": list(range(n_train + n_val, n))}
