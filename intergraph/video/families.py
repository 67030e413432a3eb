"""The ``families`` synthetic benchmark: scene families that the background tells apart, whose labels need
different graph operations, each with interference that punishes the wrong operation.

A video belongs to one family (``index % 3``); its label is a class of that family. The family sets the
background (palette and stripe orientation, drawn independently of the label), so a structure predictor that
reads the mean background node can route a video by family, while the label within a family is not readable
from the background. The families, their classes, the operation meant to solve them and the interference:

- ``motion``: A approaches / moves away from / passes / circles a static B (relations of motion over time:
  difference propagation, temporal convolution); interference: two static background patches of the kinds
  used by ``place``, which background incorporation attends to for nothing.
- ``place``: two patches of random colours, one in the left and one in the right half of the frame (both in
  every video, drawn before the label, so the background is the same whatever the label); A wears the colour
  of one of them and the label says which side (object–background relation by appearance: background
  incorporation, whose affinities of a node to the grid cells map where the background looks like it);
  interference: A and B wander at random (nuisance motion for the motion operations), and A's own features
  say nothing of the side.
- ``crowd``: four objects; three share one look (shape, size, texture, hue), the odd one has another; the
  label is the odd one's hue (warm or cool), drawn independently of the crowd's (picking out the object unlike
  the others: node attention, whose gate reads a node's similarities to all nodes; the other relational
  operations can do it too). The count of warm objects (1 or 4 against 0 or 3) gives a pooled readout of
  hue at most 75 %; interference: every object wanders.

The camera is static in every family. ``FAMILIES`` holds them as named data with the hand-chosen structure
of each (6 edges: a cell of 3 steps), which the oracle-routing arm uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synthetic import SyntheticConfig, Video, _sprite, _texture, _trajectories, draw, shape_mask


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
    Family("place", ("A looks like the patch on the left", "A looks like the patch on the right"),
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
PATCH = 40  # patch side (pixels): large enough that a background cell (16 px) lies inside a patch


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


def _place_patches(rng: np.random.Generator, world: np.ndarray, s: int, tint: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Paint two patches of random colours (light texture; apart from each other and from the background
    ``tint``), one in the left and one in the right half of the frame, at random heights: their top-left
    corners (2, 2) and colours (2, 3), left first."""
    half = s // 2
    corners = np.array([[rng.uniform(4, half - 4 - PATCH), rng.uniform(4, s - 4 - PATCH)],
                        [rng.uniform(half + 4, s - 4 - PATCH), rng.uniform(4, s - 4 - PATCH)]])
    for _ in range(1000):  # two colours apart from each other and from the family's tint
        colours = rng.uniform(30, 225, (2, 3))
        if min(np.abs(colours[0] - colours[1]).max(), *np.abs(colours - tint).max(axis=1)) > 70:
            break
    for (x, y), colour in zip(corners.astype(int), colours):
        world[y:y + PATCH, x:x + PATCH] = _texture(rng, PATCH, PATCH, 4) * 0.1 + colour * 0.9
    return corners, colours


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
    scene = {"family": family.name}
    if family.name == "motion":
        scene["patches"] = _place_patches(rng, world, s, np.array(family.palette))[0].tolist()
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
        # left, right: drawn before anything label-dependent
        corners, colours = _place_patches(rng, world, s, np.array(family.palette))
        scene["patches"], scene["colours"] = corners.tolist(), colours.tolist()
        sa = int(rng.integers(14, 20))
        a = np.full((sa, sa, 3), colours[within]) + _texture(rng, sa, sa, 4) * 0.1 - colours[within] * 0.1
        sprites, paths, roles = [(a, shape_mask(sa, 0))], [_wander(rng, T, sa, s)], ["A"]
        z = int(rng.integers(12, 18))
        sprites.append(_sprite(rng, z))
        paths.append(_wander(rng, T, z, s))
        roles.append("B")
    else:  # crowd: three look alike, the odd one looks different; the label is the odd one's hue
        kinds = [("warm", "cool")[within], ("warm", "cool")[int(rng.integers(2))]]  # odd, crowd
        looks = []  # the sprite of the odd one and of the crowd: different shapes, sizes, textures
        for shape, kind in zip(rng.permutation(3)[:2], kinds):
            z = int(rng.integers(14, 19))
            pattern = _texture(rng, z, z, 3) * 0.5 + rng.uniform(30, 225, 3) * 0.5
            looks.append((0.5 * pattern + 0.5 * hue(rng, kind), shape_mask(z, int(shape))))
        sprites, paths, roles = [], [], []
        for j in range(4):
            sprites.append(looks[min(j, 1)])
            z = looks[min(j, 1)][1].shape[0]
            for _ in range(200):
                path = _wander(rng, T, z, s)
                if all(np.abs(path[0] - q[0]).max() > 18 for q in paths):
                    break
            paths.append(path)
            roles.append("odd" if j == 0 else "crowd")
        scene["hues"] = kinds
    video = draw(rng, cfg, world, 0, cam, sprites, paths, roles, label)
    video.scene = scene
    return video

