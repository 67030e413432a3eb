"""Spatial transforms applied to frames and boxes together.

Training: multi-scale crop (TSN: crop sides drawn from ``scales`` x the shorter side, at a random position),
resize to ``size``, horizontal flip with probability 1/2. Testing: the central square crop, resized. Boxes
follow every step; a box is clipped to the crop and masked when nothing of it remains (annotations may
also hold boxes partly outside the image: they are clipped the same way). The flip mirrors x only (the
official code also mirrors y, a bug) and, for direction-sensitive classes, either swaps the label through a
label map (``flip="swap"``) or leaves such videos unflipped (``flip="skip"``). Output frames are float in
[0, 1], (3, T, size, size); normalisation belongs to the backbone (``NodeExtractor``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

#: Something-Something V2 classes that a horizontal flip turns into each other
SSV2_FLIP_PAIRS = {86: 87, 93: 94, 166: 167}


def symmetric(pairs: dict[int, int]) -> dict[int, int]:
    return {**pairs, **{b: a for a, b in pairs.items()}}


def flip_pairs(classes: list[str]) -> dict[int, int]:
    """Classes a horizontal flip turns into each other, found by name: swapping the words left and right gives
    another class (SSv2: exactly 86/87, 93/94, 166/167; V1's label list gets its own pairs the same way)."""
    import re

    index = {c.strip().lower(): i for i, c in enumerate(classes)}
    swap = {"left": "right", "right": "left"}
    out = {}
    for i, c in enumerate(classes):
        mirrored = re.sub(r"\b(left|right)\b", lambda m: swap[m.group(1)], c.strip().lower())
        j = index.get(mirrored)
        if j is not None and j != i and j not in out:
            out[i] = j
    return out


@dataclass
class ClipTransform:
    size: int = 112
    train: bool = False
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)
    flip: str = "swap"  # swap | skip | none
    flip_pairs: dict[int, int] = field(default_factory=lambda: dict(SSV2_FLIP_PAIRS))

    def __post_init__(self):
        if self.flip not in ("swap", "skip", "none"):
            raise InputError(f"flip must be swap, skip or none, not {self.flip!r}")
        self._pairs = symmetric(self.flip_pairs)

    def crop_box(self, h: int, w: int, rng: np.random.Generator | None) -> tuple[int, int, int, int]:
        """(x0, y0, cw, ch) of the crop in pixels."""
        short = min(h, w)
        if not self.train:
            return (w - short) // 2, (h - short) // 2, short, short
        cw, ch = (int(round(short * rng.choice(self.scales))) for _ in range(2))
        return int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1)), cw, ch

    def __call__(self, frames: np.ndarray, boxes: np.ndarray, mask: np.ndarray, label: int,
                 rng: np.random.Generator | None = None):
        """frames (T, H, W, 3) uint8, boxes (T, K, 4) x1 y1 x2 y2 pixels, mask (T, K) -> (video (3, T, S, S),
        boxes (T, K, 4) in output pixels, mask, label)."""
        if self.train and rng is None:
            raise ValueError("training transforms need a random generator")
        t, h, w, _ = frames.shape
        x0, y0, cw, ch = self.crop_box(h, w, rng)
        video = torch.from_numpy(np.ascontiguousarray(frames[:, y0:y0 + ch, x0:x0 + cw])).permute(3, 0, 1, 2).float()
        video = F.interpolate(video / 255.0, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=True)  # (3, T, S, S): T is the batch axis here
        b = boxes.astype(np.float32) - np.array([x0, y0, x0, y0], np.float32)
        b = np.clip(b, 0, [cw, ch, cw, ch]) * np.array([self.size / cw, self.size / ch] * 2, np.float32)
        m = mask & (b[..., 2] > b[..., 0]) & (b[..., 3] > b[..., 1])
        b = b * m[..., None]
        if self.train and self.flip != "none" and rng.uniform() < 0.5:
            if label in self._pairs and self.flip == "skip":
                pass
            else:
                video = video.flip(-1)
                b = np.stack([self.size - b[..., 2], b[..., 1], self.size - b[..., 0], b[..., 3]], -1) * m[..., None]
                label = self._pairs.get(label, label) if self.flip == "swap" else label
        return video.clamp(0, 1), b.astype(np.float32), m, label
