"""Model quality assessment of docked complexes: predict a decoy's DockQ (and fnat) from its complex graph.

The complex graph joins both partners' residue graphs in the decoy's pose with edges between residues of the
two partners (:func:`featurize.join_partners`), so the encoder sees the interface. Node embeddings (plus a
partner embedding) are pooled by attention and by mean; a small MLP gives DockQ and fnat in [0, 1].
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
from ...featurize import GraphConfig, join_partners, moved
from .decoys import Decoy


def decoy_graph(receptor: Data, ligand: Data, decoy: Decoy | None = None, config: GraphConfig = GraphConfig(),
                contact_radius: float = 12.0) -> Data:
    """The complex graph of a decoy: for a DB5 decoy the ligand graph (of the decoy's form, bound or unbound) is
    moved to the decoy's pose; without ``decoy`` the two graphs are taken as posed."""
    if decoy is not None:
        ligand = moved(ligand, torch.as_tensor(decoy.rotation, dtype=torch.float32),
                       torch.as_tensor(decoy.translation, dtype=torch.float32))
    return join_partners(receptor, ligand, config, contact_radius)


class DecoyGraphs(Dataset):
    """Items: complex graphs with ``y`` = (DockQ, fnat), ``target`` and ``decoy`` names; ``partners`` maps
    (target, form) to the graph item whose partners each decoy poses."""

    def __init__(self, decoys: list[Decoy], partners: dict, contact_radius: float = 12.0):
        self.decoys, self.partners, self.contact_radius = list(decoys), partners, contact_radius

    def __len__(self):
        return len(self.decoys)

    def __getitem__(self, i):
        d = self.decoys[i]
        item = self.partners[d.target, d.form]
        g = decoy_graph(item.receptor, item.ligand, d, contact_radius=self.contact_radius)
        g.y = torch.tensor([[d.labels["dockq"], d.labels["fnat"]]], dtype=torch.float32)
        g.target, g.decoy = d.target, d.decoy
        return g


def collate_graphs(items) -> Batch:
    return Batch.from_data_list(items)


class QualityModel(nn.Module):
    def __init__(self, encoder: ResidueEncoder, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.partner = nn.Embedding(2, d)
        self.gate = nn.Linear(d, 1)
        self.head = nn.Sequential(nn.Linear(2 * d, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 2))

    def forward(self, batch: Batch) -> torch.Tensor:
        """(graphs, 2) logits of DockQ and fnat."""
        h, _ = self.encoder(batch)
        h = h + self.partner(batch.partner)
        n = batch.num_graphs
        pooled = attention_mean_pool(h, self.gate(h), batch.batch, n)
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
                "target": np.asarray(batch.target), "decoy": np.asarray(batch.decoy)}

    def metrics(self, collected) -> dict[str, float]:
        out = regression_metrics(collected["pred_dockq"], collected["dockq"], collected["target"])
        out["top1_dockq"] = top1_quality(collected["pred_dockq"], collected["dockq"], collected["target"])
        out["best_dockq"] = top1_quality(collected["dockq"], collected["dockq"], collected["target"])
        return out
