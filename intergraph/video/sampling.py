"""Which frames a clip takes: segment-based sampling (TSN-style) with jitter for training, and several
evenly offset clips per video for testing (the paper: 5 clips, scores averaged)."""
from __future__ import annotations

import numpy as np

from ..errors import InputError


def _segments(n_frames: int, n_samples: int) -> tuple[np.ndarray, float]:
    if n_frames < 1 or n_samples < 1:
        raise InputError(f"cannot sample {n_samples} frames from a video of {n_frames}")
    length = n_frames / n_samples
    return np.arange(n_samples) * length, length


def train_indices(n_frames: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """One frame drawn uniformly inside each of ``n_samples`` equal segments (frames repeat in short videos)."""
    starts, length = _segments(n_frames, n_samples)
    return np.minimum((starts + rng.uniform(0, length, n_samples)).astype(np.int64), n_frames - 1)


def clip_indices(n_frames: int, n_samples: int, clips: int = 5) -> list[np.ndarray]:
    """``clips`` deterministic clips, the c-th taking the frame at offset (c + 0.5) / clips of every segment."""
    starts, length = _segments(n_frames, n_samples)
    return [np.minimum((starts + length * (c + 0.5) / clips).astype(np.int64), n_frames - 1) for c in range(clips)]
