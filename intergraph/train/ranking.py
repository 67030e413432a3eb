"""Training a score to rank items within groups (the models of one target): a pairwise logistic ranking loss
and batches drawn within groups, so that every batch holds pairs to rank."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Sampler


def ranking_loss(z: torch.Tensor, y: torch.Tensor, groups: list[str], margin: float = 0.01) -> torch.Tensor:
    """Mean softplus(z_j − z_i) over the pairs of one group with y_i > y_j + margin (0 when there is none)."""
    codes = torch.as_tensor(np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1), device=z.device)
    pair = (codes[:, None] == codes[None]) & (y[:, None] > y[None] + margin)
    if not pair.any():
        return z.sum() * 0.0
    return F.softplus((z[None] - z[:, None])[pair]).mean()


class TargetBatches(Sampler[list[int]]):
    """Batches of one target's items: each target's items in a random order, cut into batches, the batches of
    all targets shuffled; the order depends on (seed, epoch) alone."""

    def __init__(self, targets: list[str], batch_size: int, seed: int):
        self.targets, self.batch_size, self.seed, self.epoch = list(targets), batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng(self.seed * 100_003 + self.epoch)
        by_target: dict[str, list[int]] = {}
        for i, t in enumerate(self.targets):
            by_target.setdefault(t, []).append(i)
        batches = []
        for t in sorted(by_target):
            idx = rng.permutation(by_target[t]).tolist()
            batches += [idx[k:k + self.batch_size] for k in range(0, len(idx), self.batch_size)]
        return [batches[k] for k in rng.permutation(len(batches))]

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
