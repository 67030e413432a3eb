"""Model quality assessment of docked complexes: predict a decoy's DockQ (and fnat) from its complex graph.

The complex graph joins both partners' residue graphs in the decoy's pose with edges between residues of the
two partners (:func:`featurize.join_partners`), so the encoder sees the interface; or (``interface``) the graph
of the interface residues alone. Node embeddings (plus a partner embedding) are pooled by attention and by mean;
a small MLP gives DockQ and fnat in [0, 1].
Metrics: RMSE and Pearson, Spearman, Kendall correlations of predicted vs true DockQ, over all decoys
(global) and per target averaged (local), and the mean DockQ of each target's top-ranked decoy.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torch_geometric.data import Batch, Data

from ....graph.scatter import attention_mean_pool
from ....train.metrics import regression_metrics
from ....train.ranking import ranking_loss
from ...encoders import ResidueEncoder
from ...featurize import (
    CONTACT_BINS,
    GraphConfig,
    contact_channels,
    interface_nodes,
    join_partners,
    moved,
    node_subgraph,
)
from .decoys import SEARCH_SOURCES, Decoy

CONTACT_DIM = 2 * CONTACT_BINS     # edge channels ``decoy_graph(contacts=True)`` adds


def decoy_graph(receptor: Data, ligand: Data, pose: tuple | None = None, config: GraphConfig = GraphConfig(),
                contact_radius: float = 12.0, interface: bool = False, contacts: bool = False) -> Data:
    """The complex graph of a pose: the ligand graph moved by ``pose`` = (R (3, 3), t (3,)) (a :class:`Decoy`
    gives its own; None: the graphs as posed) against the receptor graph. ``interface``: only the interface
    residues (:func:`featurize.interface_nodes` within ``contact_radius``), as DeepRank-GNN and GNN-DOVE do;
    ``contacts``: every edge also carries :func:`featurize.contact_channels` (edge_s grows by
    :data:`CONTACT_DIM`)."""
    if isinstance(pose, Decoy):
        pose = pose.rotation, pose.translation
    r, t = (None, None) if pose is None else (torch.as_tensor(x, dtype=torch.float32) for x in pose)
    if interface:
        pos = ligand.pos if pose is None else ligand.pos @ r.T.to(ligand.pos.dtype) + t.to(ligand.pos.dtype)
        keep_r, keep_l = interface_nodes(receptor.pos, pos, contact_radius)
        receptor, ligand = node_subgraph(receptor, keep_r), node_subgraph(ligand, keep_l)
    if pose is not None:
        ligand = moved(ligand, r, t)
    g = join_partners(receptor, ligand, config, contact_radius)
    if contacts:
        g.edge_s = torch.cat([g.edge_s, contact_channels(g)], -1)
    return g


class DecoyGraphs(Dataset):
    """Items: complex graphs with ``y`` = (DockQ, fnat), ``target``, ``decoy`` and ``source``; ``partners`` maps
    (target, form) to the graph item whose partners each decoy poses."""

    def __init__(self, decoys: list[Decoy], partners: dict, **options):
        self.decoys, self.partners, self.options = list(decoys), partners, options   # options: of decoy_graph

    def __len__(self):
        return len(self.decoys)

    def __getitem__(self, i):
        d = self.decoys[i]
        item = self.partners[d.target, d.form]
        g = decoy_graph(item.receptor, item.ligand, d, **self.options)
        g.y = torch.tensor([[d.labels["dockq"], d.labels["fnat"]]], dtype=torch.float32)
        g.target, g.decoy, g.source = d.target, d.decoy, d.source
        return g


def collate_graphs(items) -> Batch:
    return Batch.from_data_list(items)


class QualityModel(nn.Module):
    """z = MLP([Σ softmax(a)·h ‖ mean h (‖ log(1 + n_r) ‖ log(1 + n_l))]) over the node embeddings h (plus a
    partner embedding) of each complex graph; ``sizes``: the head also reads the residue count of each partner
    in the graph (the interface size, when the graph is the interface). Shapes: batch of G graphs -> (G, 2)."""

    def __init__(self, encoder: ResidueEncoder, hidden: int = 128, dropout: float = 0.1, sizes: bool = False):
        super().__init__()
        self.encoder, self.sizes = encoder, sizes
        d = encoder.out_dim
        self.partner = nn.Embedding(2, d)
        self.gate = nn.Linear(d, 1)
        self.head = nn.Sequential(nn.Linear(2 * d + 2 * sizes, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, 2))

    def forward(self, batch: Batch) -> torch.Tensor:
        """(graphs, 2) logits of DockQ and fnat."""
        h, _ = self.encoder(batch)
        h = h + self.partner(batch.partner)
        n = batch.num_graphs
        pooled = attention_mean_pool(h, self.gate(h), batch.batch, n)
        if self.sizes:
            counts = torch.bincount(batch.batch * 2 + batch.partner, minlength=2 * n).view(n, 2)
            pooled = torch.cat([pooled, torch.log1p(counts.to(pooled.dtype))], -1)
        return self.head(pooled)


def top1_quality(pred: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> float:
    """Mean over targets of the true DockQ of the decoy ranked first (ties: first listed)."""
    return float(np.mean([truth[groups == g][np.argmax(pred[groups == g])] for g in np.unique(groups)]))


class QualityTask:
    """L = MSE(σ(z), (DockQ, fnat)) + λ_rank · mean over pairs (i, j) of one target in the batch with
    DockQ_i > DockQ_j + 0.01 of softplus(z_j − z_i) (z: DockQ logits; :func:`train.ranking.ranking_loss`)."""

    def __init__(self, rank_weight: float = 0.0):
        self.rank_weight = rank_weight

    def loss(self, out: torch.Tensor, batch: Batch) -> torch.Tensor:
        loss = nn.functional.mse_loss(torch.sigmoid(out), batch.y)
        if self.rank_weight:
            loss = loss + self.rank_weight * ranking_loss(out[:, 0], batch.y[:, 0], list(batch.target))
        return loss

    def predictions(self, out: torch.Tensor, batch: Batch) -> dict[str, np.ndarray]:
        p = torch.sigmoid(out).detach().float().cpu().numpy()
        y = batch.y.cpu().numpy()
        return {"pred_dockq": p[:, 0], "dockq": y[:, 0], "pred_fnat": p[:, 1], "fnat": y[:, 1],
                "target": np.asarray(batch.target), "decoy": np.asarray(batch.decoy),
                "source": np.asarray(batch.source)}

    def metrics(self, collected) -> dict[str, float]:
        """Regression metrics of DockQ (global and per target), top-1 and best DockQ per target; where the
        decoys include the docking search's, also per-target Spearman and top-1 DockQ over those alone
        (``search_local_spearman``, ``search_top1_dockq``: what re-ranking a search needs; a checkpoint monitor)."""
        p, y, t = collected["pred_dockq"], collected["dockq"], collected["target"]
        out = regression_metrics(p, y, t)
        out["top1_dockq"], out["best_dockq"] = top1_quality(p, y, t), top1_quality(y, y, t)
        m = np.isin(collected["source"], SEARCH_SOURCES)
        if m.any():
            out["search_local_spearman"] = regression_metrics(p[m], y[m], t[m])["local_spearman"]
            out["search_top1_dockq"] = top1_quality(p[m], y[m], t[m])
        return out
