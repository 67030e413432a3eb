"""The ``families`` synthetic benchmark: scene families that the background tells apart, whose labels need
different graph operations, each with interference that punishes the wrong operation.

A video belongs to one family (``index % 3``); its label is a class of that family. The family sets the
background (palette and stripe orientation, drawn independently of the label), so a structure predictor that
reads the mean background node can route a video by family, while the label within a family is not readable
from the background. The families, their classes, the operation meant to solve them and the interference:

- ``motion``: A approaches / moves away from / passes / circles a static B (relations of motion over time:
  difference propagation, temporal convolution); interference: two static background patches of the kinds
  used by ``place``, which background incorporation attends to for nothing.
- ``place``: A crosses the scene and comes to rest beside one of two checked patches placed at random, a warm
  one and a cool one (both in every video of the family and never covered, so the mean background does not
  tell which A picks);
  A's path has the same statistics whichever patch it ends on (object–background relation: background
  incorporation); interference: B and a distractor wander at random (nuisance motion for the motion operations).
- ``crowd``: two warm and two cool objects; three drift together, the odd one moves against them; the label
  is the odd one's hue, which no average over the objects or the frame shows (picking out one node: node
  attention); interference: every object jitters.

The camera is static in every family. ``FAMILIES`` holds them as named data with the hand-chosen structure
of each (6 edges: a cell of 3 steps), which the oracle-routing arm uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synthetic import SyntheticConfig, Video, _sprite, _trajectories, draw, shape_mask


@dataclass(frozen=True)
class Family:
    name: str
    classes: tuple[str, ...]
    palette: tuple[float, float, float]  # background tint (RGB, 0-255)
    stripes: float                       # stripe orientation of the background (radians)
    oracle: tuple[str, ...]              # hand-chosen structure: one operation per edge of a 3-step cell


FAMILIES = (
    Family("motion", ("A approaches B", "A moves away from B", "A passes B", "A circles B"),
           (150.0, 95.0, 80.0), 0.0,
           ("diff_prop", "temp_conv", "diff_prop", "temp_conv", "diff_prop", "temp_conv")),
    Family("place", ("A ends on the warm patch", "A ends on the cool patch"),
           (80.0, 140.0, 95.0), np.pi / 3,
           ("back_incor",) * 6),
    Family("crowd", ("the odd one out is warm", "the odd one out is cool"),
           (85.0, 100.0, 155.0), 2 * np.pi / 3,
           ("node_att",) * 6),
)
CLASSES = [f"{f.name}: {c}" for f in FAMILIES for c in f.classes]
OFFSETS = np.cumsum([0] + [len(f.classes) for f in FAMILIES])[:-1].tolist()
#: family index of every class
CLASS_FAMILY = [k for k, f in enumerate(FAMILIES) for _ in f.classes]
PATCH = 26  # patch side (pixels): larger than any object, so an object can rest inside one


def label_of(index: int) -> int:
    """Video ``index``: family ``index % 3``, class ``(index // 3) % classes of the family`` (balanced)."""
    k = index % len(FAMILIES)
    return OFFSETS[k] + (index // len(FAMILIES)) % len(FAMILIES[k].classes)


def _world(rng: np.random.Generator, family: Family, side: int) -> np.ndarray:
    """The family's background: its tint with low-contrast smooth noise and stripes at its orientation (the
    stripes' period and phase, and the noise, are drawn per video)."""
    small = rng.normal(0, 18, size=(side // 12 + 2, side // 12 + 2, 3))
    idx = np.linspace(0, small.shape[0] - 1.001, side).astype(int)
    noise = small[idx][:, idx]
    yy, xx = np.mgrid[:side, :side].astype(float)
    period, phase = rng.uniform(9, 14), rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * (xx * np.cos(family.stripes) + yy * np.sin(family.stripes)) / period + phase)
    return np.clip(np.array(family.palette) + noise + 30 * wave[..., None], 0, 255)


def hue(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A random warm (red-orange) or cool (blue-cyan) RGB colour."""
    r, g, b = rng.uniform(170, 230), rng.uniform(60, 150), rng.uniform(30, 80)
    return np.array([r, g, b] if kind == "warm" else [b, g, r])


def _patch(colour: np.ndarray) -> np.ndarray:
    """A PATCH × PATCH checkerboard (4-pixel squares) of ``colour`` and a darker shade of it."""
    yy, xx = np.mgrid[:PATCH, :PATCH] // 4
    return np.where(((xx + yy) % 2)[..., None] == 0, colour, 0.6 * colour)


def _place_patches(rng: np.random.Generator, world: np.ndarray, s: int) -> np.ndarray:
    """Paint a warm and a cool patch at random non-overlapping spots; their top-left corners (2, 2)."""
    for _ in range(1000):
        corners = rng.uniform(6, s - 6 - PATCH, (2, 2))
        if np.abs(corners[0] - corners[1]).max() > PATCH + 20:
            break
    for kind, (x, y) in zip(("warm", "cool"), corners.astype(int)):
        world[y:y + PATCH, x:x + PATCH] = _patch(hue(rng, kind))
    return corners


def _wander(rng: np.random.Generator, frames: int, size: int, s: int) -> np.ndarray:
    """A random walk with momentum inside the frame: (frames, 2) top-left corners."""
    p, v = rng.uniform(4, s - 4 - size, 2), rng.normal(0, 2.5, 2)
    out = []
    for _ in range(frames):
        out.append(p.copy())
        v = 0.8 * v + rng.normal(0, 1.2, 2)
        p = np.clip(p + v, 2, s - 2 - size)
    return np.array(out)


def render_family(index: int, cfg: SyntheticConfig, label: int | None = None) -> Video:
    """Video ``index`` of the families benchmark (label :func:`label_of` unless given). The family's
    background is drawn before anything that depends on the label."""
    rng = np.random.default_rng([cfg.seed, index, 7])
    label = label_of(index) if label is None else label
    k = CLASS_FAMILY[label]
    family, within = FAMILIES[k], label - OFFSETS[k]
    s, T = cfg.size, cfg.frames
    world = _world(rng, family, s)
    cam = np.zeros((T, 2))
    t = np.arange(T, dtype=float)
    scene = {"family": family.name}
    if family.name == "motion":
        scene["patches"] = _place_patches(rng, world, s).tolist()
        sa, sb = (int(v) for v in rng.integers(14, 21, 2))
        for _ in range(100):  # the classic generator's approach / move away / pass / circle, kept in the frame
            a, b, _ = _trajectories(rng, (0, 1, 3, 5)[within], cfg, sa, sb)
            if all(((p >= 0) & (p <= s - z)).all() for p, z in ((a, sa), (b, sb))):
                break
        sprites, paths, roles = [_sprite(rng, sa), _sprite(rng, sb)], [a, b], ["A", "B"]
        if rng.random() < 0.5:
            sd = int(rng.integers(10, 16))
            sprites.append(_sprite(rng, sd))
            paths.append(np.repeat(rng.uniform(4, s - 4 - sd, 2)[None], T, 0))
            roles.append("distractor")
    elif family.name == "place":
        corners = _place_patches(rng, world, s)  # warm, cool: both at random spots
        scene["patches"] = corners.tolist()
        sa = int(rng.integers(14, 20))
        for _ in range(100):  # A rests beside the patch (2 px gap), never on it: the patch stays fully visible
            side = rng.integers(4)
            along = corners[within][side % 2] + (PATCH - sa) / 2 + rng.uniform(-4, 4)
            across = corners[within][1 - side % 2] + (PATCH + 2 if side < 2 else -sa - 2)
            goal = np.array([along, across] if side % 2 == 0 else [across, along])
            if ((goal >= 2) & (goal <= s - 2 - sa)).all():
                break
        for _ in range(100):  # start 35-55 px from the goal, inside the frame
            ang = rng.uniform(0, 2 * np.pi)
            start = goal + rng.uniform(35, 55) * np.array([np.cos(ang), np.sin(ang)])
            if ((start >= 2) & (start <= s - 2 - sa)).all():
                break
        arrive = int(rng.integers(T // 2, T - 3))
        frac = np.clip(t / arrive, 0, 1)[:, None]
        a = start + (goal - start) * (3 * frac ** 2 - 2 * frac ** 3)  # ease in and out, then rest
        sprites, paths, roles = [_sprite(rng, sa)], [a], ["A"]
        for role in ("B", "distractor"):
            z = int(rng.integers(12, 18))
            sprites.append(_sprite(rng, z))
            paths.append(_wander(rng, T, z, s))
            roles.append(role)
    else:  # crowd: two warm and two cool objects; the odd one moves against the others' drift
        kinds = [("warm", "cool")[within], ("cool", "warm")[within]]
        kinds = [kinds[0], kinds[0], kinds[1], kinds[1]]
        drift = rng.uniform(1.0, 2.0) * np.array([np.cos(ang := rng.uniform(0, 2 * np.pi)), np.sin(ang)])
        sprites, paths, roles = [], [], []
        for j in range(4):
            z = int(rng.integers(14, 19))
            sprites.append(_solid(rng, z, hue(rng, kinds[j]), int(rng.integers(3))))
            v = -drift if j == 0 else drift
            for _ in range(200):
                start = rng.uniform(4, s - 4 - z, 2) - v * T / 2
                path = start + v * t[:, None] + np.cumsum(rng.normal(0, 0.6, (T, 2)), 0)
                if ((path >= 0) & (path <= s - z)).all() and all(
                        np.abs(path[0] - q[0]).max() > 18 for q in paths):
                    break
            paths.append(path)
            roles.append("odd" if j == 0 else "crowd")
    video = draw(rng, cfg, world, 0, cam, sprites, paths, roles, label)
    video.scene = scene
    return video


def _solid(rng: np.random.Generator, s: int, colour: np.ndarray, shape: int) -> tuple[np.ndarray, np.ndarray]:
    """A sprite of one colour (slight texture): shape 0 square, 1 disc, 2 diamond."""
    pattern, _ = _sprite(rng, s)
    return 0.2 * pattern + 0.8 * colour, shape_mask(s, shape)
