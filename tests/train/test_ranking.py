"""The within-group ranking loss and the batches drawn within groups."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from intergraph.train.ranking import TargetBatches, ranking_loss


def test_ranking_loss_and_target_batches():
    z = torch.tensor([2.0, 0.0, 5.0], requires_grad=True)
    y = torch.tensor([0.9, 0.1, 0.5])
    loss = ranking_loss(z, y, ["a", "a", "b"])  # one pair: (0 over 1), z_0 - z_1 = 2
    assert loss.item() == pytest.approx(float(np.log1p(np.exp(-2.0))))
    loss.backward()
    assert z.grad[2] == 0 and z.grad[0] < 0 < z.grad[1]
    assert ranking_loss(z, y, ["a", "b", "c"]).item() == 0.0
    sampler = TargetBatches(["a"] * 5 + ["b"] * 3, batch_size=2, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(8)) and len(batches) == 5
    assert all(len({("a" if i < 5 else "b") for i in b}) == 1 for b in batches)  # never two targets in a batch
    sampler.set_epoch(1)
    assert list(sampler) != batches and list(TargetBatches(["a"] * 5 + ["b"] * 3, 2, 0)) == batches
