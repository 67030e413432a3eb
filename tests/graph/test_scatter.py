"""Group reductions by hand."""
from __future__ import annotations

import torch

from intergraph.graph.scatter import attention_mean_pool


def test_attention_mean_pool_by_hand():
    h = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    gate = torch.tensor([[0.0], [float(torch.log(torch.tensor(3.0)))], [7.0]])  # weights 1/4, 3/4 in group 0
    out = attention_mean_pool(h, gate, torch.tensor([0, 0, 1]), 3)
    assert torch.allclose(out[0], torch.tensor([2.5, 1.5, 2.0, 1.0]))
    assert torch.allclose(out[1], torch.tensor([5.0, 5.0, 5.0, 5.0]))  # one node: attention = mean = itself
    assert torch.equal(out[2], torch.zeros(4))  # an empty group pools to zero
