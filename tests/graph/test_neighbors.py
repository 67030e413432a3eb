"""Neighbour search against brute force, chunking, batches and edge cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from intergraph.graph.neighbors import knn_graph, radius_graph


def brute(pos: np.ndarray, k: int, r: float | None, batch: np.ndarray | None = None) -> set[tuple[int, int]]:
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    if batch is not None:
        d[batch[:, None] != batch[None]] = np.inf
    edges = set()
    for i in range(len(pos)):
        order = np.argsort(d[i], kind="stable")[:k]
        for j in order:
            if np.isfinite(d[i, j]) and (r is None or d[i, j] <= r):
                edges.add((int(j), i))
    return edges


def as_set(e: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, e.t().tolist()))


@pytest.mark.parametrize("chunk", [1, 7, 2048])
def test_radius_graph_matches_brute_force(chunk):
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(300, 3, generator=g, dtype=torch.float64) * 30
    e = radius_graph(pos, 8.0, max_neighbors=10, chunk=chunk)
    assert as_set(e) == brute(pos.numpy(), 10, 8.0)
    assert (e[0] != e[1]).all()


@pytest.mark.parametrize("chunk", [5, 2048])
def test_knn_graph_matches_brute_force(chunk):
    pos = torch.randn(123, 3, generator=torch.Generator().manual_seed(1)) * 10
    e = knn_graph(pos, 6, chunk=chunk)
    assert e.shape[1] == 123 * 6
    assert as_set(e) == brute(pos.numpy(), 6, None)
    # every node is a target exactly k times
    assert torch.bincount(e[1], minlength=123).eq(6).all()


def test_batches_stay_apart():
    pos = torch.randn(40, 3, generator=torch.Generator().manual_seed(2))
    batch = torch.arange(40) // 15
    e = knn_graph(pos, 5, batch=batch, chunk=8)
    assert (batch[e[0]] == batch[e[1]]).all()
    assert as_set(e) == brute(pos.numpy(), 5, None, batch.numpy())


def test_small_graphs():
    assert knn_graph(torch.zeros(1, 3), 5).shape == (2, 0)
    assert knn_graph(torch.zeros(0, 3), 5).shape == (2, 0)
    e = knn_graph(torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [5.0, 0, 0]]), 10)
    assert e.shape[1] == 6  # k clamps to n - 1
    assert radius_graph(torch.tensor([[0.0, 0, 0], [9.0, 0, 0]]), 8.0).shape == (2, 0)
