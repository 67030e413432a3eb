"""Neighbour search in plain torch (no torch-cluster): radius and kNN graphs, chunked to bound memory.

Edges follow PyG's ``source_to_target`` flow: ``edge_index[0]`` is the neighbour j, ``edge_index[1]`` the
centre i, so a message j -> i reaches every node from its neighbours. Self-loops are never included.
Optional ``batch`` vectors keep graphs of a batch apart.
"""
from __future__ import annotations

import torch

#: rows of the distance matrix held at once; 2048 x 20,000 float32 = 160 MB
DEFAULT_CHUNK = 2048


def _neighbours(pos: torch.Tensor, k: int, r: float | None, batch: torch.Tensor | None, chunk: int) -> torch.Tensor:
    n = pos.shape[0]
    if n < 2 or k < 1:
        return torch.empty(2, 0, dtype=torch.long, device=pos.device)
    k = min(k, n - 1)
    pos = pos.to(torch.float32)
    pos = pos - pos.mean(0)  # small coordinates keep cdist's matmul path precise
    sources, targets = [], []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        d = torch.cdist(pos[start:stop], pos)  # (c, n)
        rows = torch.arange(start, stop, device=pos.device)
        d[rows - start, rows] = float("inf")
        if batch is not None:
            d.masked_fill_(batch[start:stop, None] != batch[None, :], float("inf"))
        dist, idx = torch.topk(d, k, dim=1, largest=False, sorted=False)
        ok = torch.isfinite(dist)
        if r is not None:  # decide the cutoff on exact differences, not on the matmul distances
            exact = (pos[idx] - pos[rows, None]).norm(dim=-1)
            ok &= exact <= r
        centre = rows[:, None].expand_as(idx)
        sources.append(idx[ok])
        targets.append(centre[ok])
    src, dst = torch.cat(sources), torch.cat(targets)
    order = torch.argsort(dst * n + src)  # canonical order: by centre, then neighbour
    return torch.stack([src[order], dst[order]])


def knn_graph(pos: torch.Tensor, k: int, batch: torch.Tensor | None = None, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Edges from each node's k nearest other nodes (fewer when the graph is smaller)."""
    return _neighbours(pos, k, None, batch, chunk)


def radius_graph(
    pos: torch.Tensor, r: float, max_neighbors: int = 32, batch: torch.Tensor | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Edges from all other nodes within distance ``r`` (inclusive), at most the ``max_neighbors`` nearest."""
    return _neighbours(pos, max_neighbors, r, batch, chunk)
