"""Forward+backward time of one encoder layer on the same 300-residue kNN graph, side by side.

EGNN: ours (sparse messages, index_add) vs egnn-pytorch (PyPI, bench environment only) with the same
width, message width and neighbourhood (k = 30). GVP: our GVPConvLayer vs a straightforward reference
written here from the paper's equations (dense over all residue pairs, masked to the same graph).
Molformer: the whole encoder (4 layers) on a batch of 8 such graphs, dense all-pairs attention vs the same
attention as a sparse softmax over explicit all-pairs edges (the reference path; identical outputs, tested).
Both sides get identical inputs; times are the median of repeated runs. Run with ``make bench``.
"""
from __future__ import annotations

import statistics
import sys
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn

warnings.filterwarnings("ignore")


def timed(fn, repeats: int = 20) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def graph(n: int = 300, k: int = 30):
    from intergraph.graph.neighbors import knn_graph

    g = torch.Generator().manual_seed(0)
    steps = torch.randn(n, 3, generator=g)
    pos = torch.cumsum(3.8 * steps / steps.norm(dim=1, keepdim=True), 0)  # a random Cα chain
    return pos, knn_graph(pos, k)


def bench_egnn(pos, edge_index, dim: int = 128):
    from egnn_pytorch import EGNN

    from intergraph.protein.encoders.egnn import EGNNLayer

    n = pos.shape[0]
    h = torch.randn(n, dim)
    ours = EGNNLayer(dim, edge_dim=0, update_coords=True)
    theirs = EGNN(dim=dim, m_dim=dim, num_nearest_neighbors=30)
    empty = torch.zeros(edge_index.shape[1], 0)

    def run_ours():
        hh = h.clone().requires_grad_()
        out, x = ours(hh, pos, edge_index, empty)
        (out.sum() + x.sum()).backward()

    def run_theirs():
        hh = h[None].clone().requires_grad_()
        out, x = theirs(hh, pos[None])
        (out.sum() + x.sum()).backward()

    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return timed(run_ours), timed(run_theirs), count(ours), count(theirs)


class ReferenceGVPConv(nn.Module):
    """GVP message passing transcribed literally: every (i, j) pair, masked by the adjacency matrix."""

    def __init__(self, ns: int, nv: int, se: int, ve: int):
        super().__init__()
        si, vi = 2 * ns + se, 2 * nv + ve
        self.wh = nn.ModuleList([nn.Linear(vi, max(vi, nv), bias=False), nn.Linear(nv, nv, bias=False),
                                 nn.Linear(nv, nv, bias=False)])
        self.ws = nn.ModuleList([nn.Linear(si + max(vi, nv), ns), nn.Linear(ns + nv, ns), nn.Linear(ns + nv, ns)])
        self.wv = nn.ModuleList([nn.Linear(max(vi, nv), nv, bias=False), nn.Linear(nv, nv, bias=False),
                                 nn.Linear(nv, nv, bias=False)])
        self.gate = nn.ModuleList([nn.Linear(ns, nv) for _ in range(3)])

    def forward(self, s, v, adj, es, ev):
        n = s.shape[0]
        ms = torch.cat([s[None].expand(n, n, -1), es, s[:, None].expand(n, n, -1)], -1)  # (i, j, ·)
        mv = torch.cat([v[None].expand(n, n, -1, -1), ev, v[:, None].expand(n, n, -1, -1)], -2)
        for k in range(3):
            vh = self.wh[k](mv.transpose(-1, -2))
            ms = self.ws[k](torch.cat([ms, vh.norm(dim=-2)], -1))
            mv = self.wv[k](vh).transpose(-1, -2) * torch.sigmoid(self.gate[k](F.relu(ms) if k < 2 else ms))[..., None]
            if k < 2:
                ms = F.relu(ms)
        w = adj / adj.sum(1, keepdim=True).clamp_min(1)
        return torch.einsum("ij,ijc->ic", w, ms), torch.einsum("ij,ijcx->icx", w, mv)


def bench_gvp(pos, edge_index, ns: int = 100, nv: int = 16):
    from intergraph.protein.encoders.gvp import GVPConvLayer

    n = pos.shape[0]
    g = torch.Generator().manual_seed(1)
    s, v = torch.randn(n, ns, generator=g), torch.randn(n, nv, 3, generator=g)
    src, dst = edge_index
    es, ev = torch.randn(edge_index.shape[1], 32, generator=g), torch.randn(edge_index.shape[1], 1, 3, generator=g)
    ours = GVPConvLayer((ns, nv), (32, 1), drop_rate=0.0)
    ref = ReferenceGVPConv(ns, nv, 32, 1)
    adj = torch.zeros(n, n)
    adj[dst, src] = 1.0
    dense_es = torch.zeros(n, n, 32)
    dense_es[dst, src] = es
    dense_ev = torch.zeros(n, n, 1, 3)
    dense_ev[dst, src] = ev

    def run_ours():
        ss, vv = s.clone().requires_grad_(), v.clone().requires_grad_()
        o = ours((ss, vv), edge_index, (es, ev))
        (o[0].sum() + o[1].sum()).backward()

    def run_ref():
        ss, vv = s.clone().requires_grad_(), v.clone().requires_grad_()
        o = ref(ss, vv, adj, dense_es, dense_ev)
        (o[0].sum() + o[1].sum()).backward()

    return timed(run_ours, 10), timed(run_ref, 3)


def bench_molformer(pos, graphs: int = 8):
    from intergraph.protein.encoders.molformer import MolformerEncoder

    torch.manual_seed(0)
    model = MolformerEncoder(7, layers=4, full_max=1000)
    x = torch.randn(graphs * len(pos), 7)
    p = pos.repeat(graphs, 1)
    batch = torch.arange(graphs).repeat_interleave(len(pos))

    def run(dense):
        def step():
            model.zero_grad()
            model(x, None, p, batch, dense=dense)[0].pow(2).mean().backward()
        return step

    return timed(run(True), 5), timed(run(False), 3)


def main() -> int:
    pos, edge_index = graph()
    print(f"graph: 300 residues, kNN k=30 ({edge_index.shape[1]} edges); CPU threads {torch.get_num_threads()}")
    ours, theirs, p_ours, p_theirs = bench_egnn(pos, edge_index)
    print(f"EGNN layer fwd+bwd: ours {ours * 1e3:7.2f} ms ({p_ours:,} params), egnn-pytorch {theirs * 1e3:7.2f} ms "
          f"({p_theirs:,} params); ratio {theirs / ours:.2f}x (goal >= 1.5x)")
    ours, ref = bench_gvp(pos, edge_index)
    print(f"GVP conv layer fwd+bwd (message part in the reference): ours {ours * 1e3:7.2f} ms, "
          f"dense reference {ref * 1e3:7.2f} ms; ratio {ref / ours:.2f}x")
    dense, sparse = bench_molformer(pos)
    print(f"Molformer encoder fwd+bwd, 8 graphs of 300 residues, all pairs: dense {dense * 1e3:7.1f} ms, sparse "
          f"edges {sparse * 1e3:7.1f} ms; ratio {sparse / dense:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
