"""Random rigid motions for equivariance tests."""
from __future__ import annotations

import numpy as np


def random_orthogonal(seed: int, reflect: bool = False) -> np.ndarray:
    """A random rotation (det +1), or a rotation followed by a reflection (det -1)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    if reflect:
        q = q @ np.diag([1.0, 1.0, -1.0])
    return q
