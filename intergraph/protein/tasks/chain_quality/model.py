"""Single-chain model quality: a model's GDT_TS from its residue graph, with per-residue lDDT as an auxiliary
target and a ranking term between models of the same target.

Node embeddings h (N, d) of the encoder are pooled by attention and by mean; an MLP gives the GDT_TS logit
(G,), a linear layer on h the per-residue lDDT logits (N,). With the consensus input c (G,) (each model's mean
TM-score to other models of its target), z = logit(c) + MLP([pool(h), c]): a learned correction of the consensus
score, which the untrained network (MLP ≈ 0) already ranks by (a quasi-single-model QA). Loss, with
s = σ(logit):

    L = MSE(s_gdt, y) + λ_lddt · MSE over labelled residues (s_lddt, lddt)
        + λ_rank · mean over pairs (i, j) of one target in the batch with y_i > y_j + 0.01 of softplus(z_j − z_i)

(z = GDT logits). Batches are drawn within targets (:class:`TargetBatches`), so the ranking term sees pairs.
Metrics: per-target Spearman (primary), top-1 GDT_TS loss, global Spearman / Pearson, RMSE.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.data import Batch

from ....graph.scatter import attention_mean_pool
from ....train.metrics import ranking_metrics
from ....train.ranking import ranking_loss
from ...encoders import ResidueEncoder


class ChainQualityModel(nn.Module):
    def __init__(self, encoder: ResidueEncoder, hidden: int = 128, dropout: float = 0.1, consensus: bool = False):
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.consensus = consensus
        self.gate = nn.Linear(d, 1)
        self.head = nn.Sequential(nn.Linear(2 * d + consensus, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, 1))
        self.residue = nn.Linear(d, 1)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(G,) GDT_TS logits and (N,) per-residue lDDT logits."""
        h, _ = self.encoder(batch)
        n = batch.num_graphs
        pooled = attention_mean_pool(h, self.gate(h), batch.batch, n)
        if not self.consensus:
            return self.head(pooled)[:, 0], self.residue(h)[:, 0]
        c = batch.consensus
        return torch.logit(c, eps=0.01) + self.head(torch.cat([pooled, c[:, None]], 1))[:, 0], self.residue(h)[:, 0]


class ChainQualityTask:
    def __init__(self, lddt_weight: float = 0.5, rank_weight: float = 1.0):
        self.lddt_weight, self.rank_weight = lddt_weight, rank_weight

    def loss(self, out, batch: Batch) -> torch.Tensor:
        z, r = out
        loss = F.mse_loss(torch.sigmoid(z), batch.y)
        if self.lddt_weight and batch.lddt_mask.any():
            m = batch.lddt_mask
            loss = loss + self.lddt_weight * F.mse_loss(torch.sigmoid(r[m]), batch.lddt[m])
        if self.rank_weight:
            loss = loss + self.rank_weight * ranking_loss(z, batch.y, list(batch.target))
        return loss

    def predictions(self, out, batch: Batch) -> dict[str, np.ndarray]:
        return {"pred": torch.sigmoid(out[0]).detach().float().cpu().numpy(), "gdt_ts": batch.y.cpu().numpy(),
                "target": np.asarray(batch.target), "model": np.asarray(batch.model)}

    def metrics(self, collected) -> dict[str, float]:
        r = ranking_metrics(collected["pred"], collected["gdt_ts"], collected["target"])
        rmse = float(np.sqrt(np.mean((collected["pred"] - collected["gdt_ts"]) ** 2)))
        return {k: r[k] for k in ("per_target_spearman", "top1_loss", "spearman", "pearson")} | {"rmse": rmse}
