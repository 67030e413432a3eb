"""GVP-GNN (Jing et al., ICLR 2021; vector gating from Jing et al. 2021), written from the papers' equations.

Features travel as tuples ``(s, V)``: scalars ``s`` (n, S) and vectors ``V`` (n, C, 3). A GVP mixes vector
channels linearly (so rotations and reflections of the input act on its output the same way), feeds the
vector norms into the scalar path, and gates each output vector by a sigmoid of the scalar output.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...graph.scatter import scatter_mean

Dims = tuple[int, int]


def _norm(v: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    return torch.sqrt(torch.clamp((v * v).sum(dim), min=eps))


class GVP(nn.Module):
    """Geometric vector perceptron: (s, V) with dims ``in_dims`` -> (s', V') with dims ``out_dims``."""

    def __init__(self, in_dims: Dims, out_dims: Dims, h_dim: int | None = None, activate: bool = True,
                 vector_gate: bool = True):
        super().__init__()
        (self.si, self.vi), (self.so, self.vo) = in_dims, out_dims
        self.activate = activate
        if self.vi:
            self.h = h_dim or max(self.vi, self.vo)
            self.wh = nn.Linear(self.vi, self.h, bias=False)
            self.ws = nn.Linear(self.si + self.h, self.so)
            if self.vo:
                self.wv = nn.Linear(self.h, self.vo, bias=False)
                self.gate = nn.Linear(self.so, self.vo) if vector_gate else None
        else:
            self.ws = nn.Linear(self.si, self.so)

    def forward(self, s: torch.Tensor, v: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.vi:
            vh = self.wh(v.transpose(-1, -2))  # (n, 3, h)
            s = self.ws(torch.cat([s, _norm(vh, dim=-2)], -1))
            if self.vo:
                out_v = self.wv(vh).transpose(-1, -2)  # (n, vo, 3)
                if self.gate is not None:
                    g = self.gate(F.relu(s) if self.activate else s)
                    out_v = out_v * torch.sigmoid(g)[..., None]
                elif self.activate:
                    out_v = out_v * torch.sigmoid(_norm(out_v))[..., None]
            else:
                out_v = None
        else:
            s = self.ws(s)
            out_v = s.new_zeros(s.shape[0], self.vo, 3) if self.vo else None
        if self.activate:
            s = F.relu(s)
        return s, out_v


class TupleNorm(nn.Module):
    """LayerNorm on scalars; vectors scaled by the root-mean-square of their channel norms."""

    def __init__(self, dims: Dims):
        super().__init__()
        self.vo = dims[1]
        self.norm = nn.LayerNorm(dims[0])

    def forward(self, s, v):
        if not self.vo:
            return self.norm(s), v
        rms = torch.sqrt(torch.clamp((v * v).sum(-1), min=1e-8).mean(-1, keepdim=True))
        return self.norm(s), v / rms[..., None]


class TupleDropout(nn.Module):
    """Dropout of scalar entries, and of whole vector channels."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.dropout = nn.Dropout(p)

    def forward(self, s, v):
        if not self.training or self.p == 0 or v is None:
            return self.dropout(s), v
        keep = torch.bernoulli(torch.full(v.shape[:-1], 1 - self.p, device=v.device)) / (1 - self.p)
        return self.dropout(s), v * keep[..., None]


def _cat(*tuples):
    return torch.cat([t[0] for t in tuples], -1), torch.cat([t[1] for t in tuples], -2)


class GVPConvLayer(nn.Module):
    """Message passing with GVPs (mean over incoming edges), then a GVP feed-forward; both residual + norm."""

    def __init__(self, node_dims: Dims, edge_dims: Dims, n_message: int = 3, n_feedforward: int = 2,
                 drop_rate: float = 0.1):
        super().__init__()
        ns, nv = node_dims
        se, ve = edge_dims
        msg = [GVP((2 * ns + se, 2 * nv + ve), node_dims)]
        msg += [GVP(node_dims, node_dims) for _ in range(n_message - 2)]
        msg += [GVP(node_dims, node_dims, activate=False)]
        self.message = nn.ModuleList(msg)
        hidden = (4 * ns, 2 * nv)
        ff = [GVP(node_dims, hidden)] + [GVP(hidden, hidden) for _ in range(n_feedforward - 2)]
        ff += [GVP(hidden, node_dims, activate=False)]
        self.feedforward = nn.ModuleList(ff)
        self.norm = nn.ModuleList([TupleNorm(node_dims), TupleNorm(node_dims)])
        self.dropout = nn.ModuleList([TupleDropout(drop_rate), TupleDropout(drop_rate)])

    def forward(self, x, edge_index, edge):
        s, v = x
        src, dst = edge_index
        m = _cat((s[src], v[src]), edge, (s[dst], v[dst]))
        for layer in self.message:
            m = layer(*m)
        agg = (scatter_mean(m[0], dst, s.shape[0]), scatter_mean(m[1], dst, s.shape[0]))
        d = self.dropout[0](*agg)
        s, v = self.norm[0](s + d[0], v + d[1])
        f = (s, v)
        for layer in self.feedforward:
            f = layer(*f)
        d = self.dropout[1](*f)
        return self.norm[1](s + d[0], v + d[1])


class GVPEncoder(nn.Module):
    """GVP-GNN encoder: per-node invariant scalars (n, out_dim) and equivariant vectors (n, node_h[1], 3)."""

    def __init__(self, node_in: Dims, edge_in: Dims, node_h: Dims = (100, 16), edge_h: Dims = (32, 1),
                 layers: int = 5, out_dim: int = 100, drop_rate: float = 0.1):
        super().__init__()
        self.node_in_norm, self.node_in = TupleNorm(node_in), GVP(node_in, node_h, activate=False)
        self.edge_in_norm, self.edge_in = TupleNorm(edge_in), GVP(edge_in, edge_h, activate=False)
        self.layers = nn.ModuleList([GVPConvLayer(node_h, edge_h, drop_rate=drop_rate) for _ in range(layers)])
        self.out_norm, self.out = TupleNorm(node_h), GVP(node_h, (out_dim, 0))
        self.out_dim = out_dim

    def forward(self, node_s, node_v, edge_index, edge_s, edge_v, pos=None):
        x = self.node_in(*self.node_in_norm(node_s, node_v))
        e = self.edge_in(*self.edge_in_norm(edge_s, edge_v))
        for layer in self.layers:
            x = layer(x, edge_index, e)
        s, _ = self.out(*self.out_norm(*x))
        return s, x[1]
