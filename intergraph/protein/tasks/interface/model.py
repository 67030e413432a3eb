"""Interface prediction: which residues of each partner touch the other.

One shared encoder embeds the receptor and the ligand graph; each residue then attends over the partner's
residues (cross-attention on invariant embeddings, so the prediction ignores the partners' poses) and a
small MLP gives its logit. Class imbalance: the positive class is up-weighted by the training set's
negative/positive ratio.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torch_geometric.utils import to_dense_batch

from ....errors import InputError
from ....train.metrics import binary_metrics
from ...complexes import PairBatch
from ...encoders import ResidueEncoder


class ComplexDataset(Dataset):
    """Items are (receptor graph, ligand graph, complex index); labels live on the graphs (``y_<label>``)."""

    def __init__(self, items, label: str = "heavy"):
        self.items = list(items)
        self.label = label
        for it in self.items:
            for g in (it.receptor, it.ligand):
                if f"y_{label}" not in g:
                    raise InputError(f"{g.name}: no interface labels y_{label} (bound structures carry them)")

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def positive_weight(self) -> float:
        pos = sum(int(g[f"y_{self.label}"].sum()) for it in self.items for g in (it.receptor, it.ligand))
        total = sum(int(g.y_mask.sum()) if "y_mask" in g else g.num_nodes
                    for it in self.items for g in (it.receptor, it.ligand))
        return (total - pos) / max(pos, 1)


class InterfaceModel(nn.Module):
    def __init__(self, encoder: ResidueEncoder, heads: int = 4, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.cross = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Sequential(nn.Linear(2 * d, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def _side(self, h_self, b_self, h_other, b_other):
        q, q_mask = to_dense_batch(h_self, b_self)
        k, k_mask = to_dense_batch(h_other, b_other, batch_size=q.shape[0])
        att, _ = self.cross(self.norm(q), self.norm(k), self.norm(k), key_padding_mask=~k_mask, need_weights=False)
        return self.head(torch.cat([h_self, att[q_mask]], -1)).squeeze(-1)

    def forward(self, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
        r, l = batch.receptor, batch.ligand
        h_r, _ = self.encoder(r)
        h_l, _ = self.encoder(l)
        return self._side(h_r, r.batch, h_l, l.batch), self._side(h_l, l.batch, h_r, r.batch)


class InterfaceTask:
    """Loss, per-residue predictions and metrics for the training layer."""

    def __init__(self, label: str = "heavy", pos_weight: float = 1.0):
        self.label = label
        self.pos_weight = pos_weight

    def _targets(self, batch: PairBatch):
        """Labels of both partners and the mask of residues that have one (unbound residues without a bound
        counterpart have none)."""
        y = torch.cat([batch.receptor[f"y_{self.label}"], batch.ligand[f"y_{self.label}"]]).float()
        masks = [g.y_mask if "y_mask" in g else torch.ones(g.num_nodes, dtype=torch.bool, device=y.device)
                 for g in (batch.receptor, batch.ligand)]
        return y, torch.cat(masks)

    def loss(self, output, batch: PairBatch) -> torch.Tensor:
        logits = torch.cat(output)
        target, mask = self._targets(batch)
        w = torch.tensor(self.pos_weight, device=logits.device, dtype=logits.dtype)
        return nn.functional.binary_cross_entropy_with_logits(logits[mask], target[mask], pos_weight=w)

    def predictions(self, output, batch: PairBatch) -> dict[str, np.ndarray]:
        r, l = batch.receptor, batch.ligand
        target, mask = self._targets(batch)
        mask = mask.cpu().numpy()
        groups = np.concatenate([np.asarray(batch.ids)[g.batch.cpu().numpy()] for g in (r, l)])
        return {"score": torch.cat(output).detach().float().cpu().numpy()[mask],
                "label": target.cpu().numpy()[mask], "complex": groups[mask]}

    def metrics(self, collected) -> dict[str, float]:
        m = binary_metrics(collected["score"], collected["label"], collected["complex"])
        return {k: v for k, v in m.items() if k != "mean_group_auroc"}
