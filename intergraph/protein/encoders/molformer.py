"""A Molformer-style geometric transformer: multi-head self-attention with a learned distance bias.

Attention logits are q_i·k_j/√d + b_lh(‖x_i − x_j‖), with b an MLP of a radial basis that gives every layer l
and head h its own bias (one MLP evaluated once per forward pass: the pair count is what costs), so the
encoder is invariant to rotations, reflections and translations. When every graph of a batch has at most
``full_max`` nodes, each node attends to all other nodes of its graph, computed densely (padded (B, N, N)
logits — far faster than gathering n² edges); otherwise attention runs over the given (radius) edges as a
sparse softmax over each node's incoming edges. Both paths compute the same function (tested).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch_geometric.utils import to_dense_batch

from ...errors import InputError
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
    def __init__(self, dim: int, heads: int, dropout: float = 0.1):
        super().__init__()
        if dim % heads:
            raise InputError(f"width {dim} is not divisible by {heads} heads")
        self.heads, self.dk = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def _sparse(self, q, k, v, bias, edge_index):
        n = q.shape[0]
        src, dst = edge_index
        logits = (q[dst] * k[src]).sum(-1) / math.sqrt(self.dk) + bias
        alpha = self.dropout(scatter_softmax(logits, dst, n))  # (E, heads)
        return scatter_sum(alpha[..., None] * v[src], dst, n).reshape(n, -1)

    def _dense(self, q, k, v, bias, batch, pair_mask):
        q, node_mask = to_dense_batch(q, batch)  # (B, N, H, dk)
        k, _ = to_dense_batch(k, batch)
        v, _ = to_dense_batch(v, batch)
        logits = torch.einsum("bihd,bjhd->bhij", q, k) / math.sqrt(self.dk) + bias.permute(0, 3, 1, 2)
        mask = pair_mask[:, None]
        logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
        alpha = self.dropout(torch.softmax(logits, -1) * mask)  # a node without partners attends to nothing
        out = torch.einsum("bhij,bjhd->bihd", alpha, v)
        return out[node_mask].reshape(-1, self.heads * self.dk)

    def forward(self, h, bias, edge_index=None, dense=None):
        """Sparse: ``bias`` (E, heads) on ``edge_index`` (2, E). Dense: ``bias`` (B, N, N, heads) and
        ``dense = (batch, pair_mask (B, N, N))``."""
        q, k, v = self.qkv(self.norm1(h)).view(h.shape[0], 3, self.heads, self.dk).unbind(1)
        out = self._dense(q, k, v, bias, *dense) if dense is not None else self._sparse(q, k, v, bias, edge_index)
        h = h + self.dropout(self.proj(out))
        return h + self.dropout(self.ff(self.norm2(h)))


class MolformerEncoder(nn.Module):
    def __init__(self, node_in: int, dim: int = 128, heads: int = 8, layers: int = 4, out_dim: int = 128,
                 full_max: int = 256, dropout: float = 0.1, rbf_bins: int = 16, bias_hidden: int = 64):
        super().__init__()
        self.embed = nn.Linear(node_in, dim)
        self.bias = nn.Sequential(nn.Linear(rbf_bins, bias_hidden), nn.SiLU(), nn.Linear(bias_hidden, layers * heads))
        self.layers = nn.ModuleList([GeoAttentionLayer(dim, heads, dropout=dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, out_dim)
        self.full_max, self.out_dim, self.rbf_bins = full_max, out_dim, rbf_bins

    def forward(self, node_s, edge_index, pos, batch=None, dense: bool = True):
        """``dense=False`` computes full attention over explicit all-pairs edges (the reference path)."""
        batch = batch if batch is not None else torch.zeros(node_s.shape[0], dtype=torch.long, device=node_s.device)
        full = int(torch.bincount(batch).max()) <= self.full_max
        if full and dense:
            x, node_mask = to_dense_batch(pos, batch)
            eye = torch.eye(x.shape[1], dtype=torch.bool, device=x.device)
            geometry = {"dense": (batch, node_mask[:, :, None] & node_mask[:, None, :] & ~eye)}
            dist = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")  # exact far from the origin
        else:
            edge_index = full_edges(batch) if full else edge_index
            geometry = {"edge_index": edge_index}
            dist = (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)
        bias = self.bias(rbf(dist, 0.0, 20.0, self.rbf_bins))
        bias = bias.view(*bias.shape[:-1], len(self.layers), -1)
        h = self.embed(node_s)
        for i, layer in enumerate(self.layers):
            h = layer(h, bias[..., i, :], **geometry)
        return self.out(self.norm(h)), pos
