"""A Molformer-style geometric transformer: multi-head self-attention with a learned distance bias.

Attention logits are q_i·k_j/√d + b_h(‖x_i − x_j‖), with b_h an MLP of a radial basis per head, so the
layer is invariant to rotations, reflections and translations. Attention runs over all pairs of a graph
when it has at most ``full_max`` nodes, else over the given (radius) edges; either way as a sparse
softmax over each node's incoming edges.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ...graph.features import rbf
from ...graph.scatter import scatter_softmax, scatter_sum


def full_edges(batch: torch.Tensor) -> torch.Tensor:
    """All ordered pairs i != j within each graph of a batch, as (2, E) source/target."""
    counts = torch.bincount(batch)
    starts = torch.cumsum(counts, 0) - counts
    src, dst = [], []
    for n, s in zip(counts.tolist(), starts.tolist()):
        idx = torch.arange(n, device=batch.device)
        a, b = torch.meshgrid(idx, idx, indexing="ij")
        keep = a != b
        src.append(a[keep] + s)
        dst.append(b[keep] + s)
    return torch.stack([torch.cat(src), torch.cat(dst)])


class GeoAttentionLayer(nn.Module):
    def __init__(self, dim: int, heads: int, rbf_bins: int = 16, dropout: float = 0.1):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads, self.dk = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.bias = nn.Sequential(nn.Linear(rbf_bins, dim), nn.SiLU(), nn.Linear(dim, heads))
        self.proj = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.rbf_bins = rbf_bins

    def forward(self, h, edge_index, dist):
        n = h.shape[0]
        src, dst = edge_index
        q, k, v = self.qkv(self.norm1(h)).view(n, 3, self.heads, self.dk).unbind(1)
        logits = (q[dst] * k[src]).sum(-1) / math.sqrt(self.dk) + self.bias(rbf(dist, 0.0, 20.0, self.rbf_bins))
        alpha = self.dropout(scatter_softmax(logits, dst, n))  # (E, heads)
        out = scatter_sum(alpha[..., None] * v[src], dst, n).reshape(n, -1)
        h = h + self.dropout(self.proj(out))
        return h + self.dropout(self.ff(self.norm2(h)))


class MolformerEncoder(nn.Module):
    def __init__(self, node_in: int, dim: int = 128, heads: int = 8, layers: int = 4, out_dim: int = 128,
                 full_max: int = 256, dropout: float = 0.1):
        super().__init__()
        self.embed = nn.Linear(node_in, dim)
        self.layers = nn.ModuleList([GeoAttentionLayer(dim, heads, dropout=dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, out_dim)
        self.full_max, self.out_dim = full_max, out_dim

    def forward(self, node_s, edge_index, pos, batch=None):
        batch = batch if batch is not None else torch.zeros(node_s.shape[0], dtype=torch.long, device=node_s.device)
        if int(torch.bincount(batch).max()) <= self.full_max:
            edge_index = full_edges(batch)
        dist = (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)
        h = self.embed(node_s)
        for layer in self.layers:
            h = layer(h, edge_index, dist)
        return self.out(self.norm(h)), pos
