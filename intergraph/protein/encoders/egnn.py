"""EGNN (Satorras, Hoogeboom, Welling, ICML 2021), written from the paper's equations.

m_ij = φ_e(h_i, h_j, ‖x_i − x_j‖, a_ij);  x_i ← x_i + Σ_j (x_i − x_j)/(‖x_i − x_j‖ + 1) φ_x(m_ij) / N_i;
h_i ← h_i + φ_h(h_i, Σ_j m_ij). E(n)-equivariant: invariant node features, equivariant coordinates.
"""
from __future__ import annotations

import torch
from torch import nn

from ...graph.scatter import scatter_mean, scatter_sum


class EGNNLayer(nn.Module):
    def __init__(self, dim: int, edge_dim: int, update_coords: bool = False):
        super().__init__()
        self.phi_e = nn.Sequential(nn.Linear(2 * dim + 1 + edge_dim, dim), nn.SiLU(), nn.Linear(dim, dim), nn.SiLU())
        self.phi_h = nn.Sequential(nn.Linear(2 * dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.update_coords = update_coords
        if update_coords:
            last = nn.Linear(dim, 1, bias=False)
            nn.init.xavier_uniform_(last.weight, gain=0.001)  # start near the identity map on coordinates
            self.phi_x = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), last)
        self.norm = nn.LayerNorm(dim)

    def forward(self, h, x, edge_index, edge_attr):
        src, dst = edge_index
        rel = x[dst] - x[src]
        dist = rel.norm(dim=-1, keepdim=True)
        m = self.phi_e(torch.cat([h[dst], h[src], dist / 10.0, edge_attr], -1))
        if self.update_coords:
            x = x + scatter_mean(rel / (dist + 1.0) * self.phi_x(m), dst, x.shape[0])
        h = self.norm(h + self.phi_h(torch.cat([h, scatter_sum(m, dst, h.shape[0])], -1)))
        return h, x


class EGNNEncoder(nn.Module):
    """Per-node invariant features (n, out_dim) and the (optionally updated) coordinates."""

    def __init__(self, node_in: int, edge_in: int, dim: int = 128, layers: int = 4, out_dim: int = 128,
                 update_coords: bool = False):
        super().__init__()
        self.embed = nn.Linear(node_in, dim)
        self.layers = nn.ModuleList([EGNNLayer(dim, edge_in, update_coords) for _ in range(layers)])
        self.out = nn.Linear(dim, out_dim)
        self.out_dim = out_dim

    def forward(self, node_s, edge_index, edge_s, pos):
        h, x = self.embed(node_s), pos
        for layer in self.layers:
            h, x = layer(h, x, edge_index, edge_s)
        return self.out(h), x
