"""Rigid-body docking in the spirit of EquiDock (Ganea et al. 2022).

A shared encoder embeds the receptor and ligand residue graphs into invariant features; cross-graph attention
lets each partner read the other; K keypoints per partner are attention-weighted averages of its own Cα
positions (weights from its features and the partner's pooled features), so ligand keypoints move with the
ligand and receptor keypoints with the receptor. The ligand's rotation and translation are the Kabsch
superposition of its keypoints onto the receptor's (differentiable). Hence the docked complex does not depend
on the input pose of either partner, up to the receptor's frame.

Losses (EquiDock's): mean squared deviation of the docked ligand's Cα from the truth; an optimal-transport
loss between each partner's keypoints and its binding-pocket points (midpoints of the true interface Cα
pairs within 8 Å, expressed in that partner's input frame); optionally the intersection (clash) loss on the
smooth surface function G(x) = −σ log Σ_j exp(−‖x − x_j‖² / σ).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torch_geometric.utils import to_dense_batch

from ....graph.rigid import kabsch, random_rotation
from ...complexes import ComplexGraphs, PairBatch
from ...docking_metrics import score_complex, summarize
from ...encoders import ResidueEncoder
from ...featurize import moved


class DockingPairs(Dataset):
    """Bound complexes posed as docking problems: both partners moved by random rigid motions, the ligand
    carrying ``y_pos`` (its true Cα positions in the receptor's moved frame).

    Motions depend on (seed, epoch, index) only, so a resumed run sees the poses an uninterrupted one saw;
    ``epoch_of`` returns the current epoch (the training sampler's), ``None`` keeps one pose per item
    (validation)."""

    def __init__(self, items: list[ComplexGraphs], seed: int = 0, epoch_of: Callable[[], int] | None = None,
                 spread: float = 30.0):
        self.items, self.seed, self.epoch_of, self.spread = list(items), seed, epoch_of, spread

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        it = self.items[i]
        epoch = self.epoch_of() if self.epoch_of is not None else 0
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 100_003 + i)
        rr, tr = random_rotation(g), torch.randn(3, generator=g) * self.spread
        rl, tl = random_rotation(g), torch.randn(3, generator=g) * self.spread
        ligand = moved(it.ligand, rl, tl)
        ligand.y_pos = it.ligand.pos @ rr.T + tr
        return ComplexGraphs(it.id, moved(it.receptor, rr, tr), ligand)


@dataclass
class DockOutput:
    rotation: torch.Tensor            # (B, 3, 3): ligand input frame -> receptor frame
    translation: torch.Tensor         # (B, 3)
    ligand_pos: torch.Tensor          # (n_ligand, 3) docked ligand Cα
    keypoints_ligand: torch.Tensor    # (B, K, 3) in the ligand's input frame
    keypoints_receptor: torch.Tensor  # (B, K, 3) in the receptor's frame


class DockingModel(nn.Module):
    def __init__(self, encoder: ResidueEncoder, keypoints: int = 8, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.encoder, self.k = encoder, keypoints
        d = encoder.out_dim
        self.cross = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 2 * d), nn.SiLU(), nn.Dropout(dropout),
                                nn.Linear(2 * d, d))
        self.query = nn.ModuleDict({role: nn.Linear(d, keypoints * d) for role in "lr"})
        self.key = nn.ModuleDict({role: nn.Linear(d, d) for role in "lr"})

    def _cross(self, h, mask, h_other, mask_other):
        k = self.norm(h_other)
        att, _ = self.cross(self.norm(h), k, k, key_padding_mask=~mask_other, need_weights=False)
        h = h + att
        return h + self.ff(h)

    def _keypoints(self, role, h, mask, pos, h_other, mask_other):
        pooled = (h_other * mask_other[..., None]).sum(1) / mask_other.sum(1, keepdim=True)
        q = self.query[role](pooled).view(h.shape[0], self.k, -1)
        logits = q @ self.key[role](h).transpose(1, 2) / math.sqrt(h.shape[-1])  # (B, K, N)
        alpha = torch.softmax(logits.masked_fill(~mask[:, None, :], float("-inf")), -1)
        return alpha @ pos

    def forward(self, batch: PairBatch) -> DockOutput:
        r, l = batch.receptor, batch.ligand
        n = len(batch.ids)
        dense = {}
        for role, g in (("r", r), ("l", l)):
            h, _ = self.encoder(g)
            hd, mask = to_dense_batch(h, g.batch, batch_size=n)
            dense[role] = (hd, mask, to_dense_batch(g.pos, g.batch, batch_size=n)[0])
        (hr, mr, xr), (hl, ml, xl) = dense["r"], dense["l"]
        hr, hl = self._cross(hr, mr, hl, ml), self._cross(hl, ml, hr, mr)
        key_l = self._keypoints("l", hl, ml, xl, hr, mr)
        key_r = self._keypoints("r", hr, mr, xr, hl, ml)
        rot, trans = kabsch(key_l, key_r)
        docked = (l.pos[:, None, :] @ rot[l.batch].transpose(1, 2)).squeeze(1) + trans[l.batch]
        return DockOutput(rot, trans, docked, key_l, key_r)


def ot_loss(points: torch.Tensor, targets: torch.Tensor, eps: float = 0.05, iterations: int = 100) -> torch.Tensor:
    """Optimal-transport cost Σ T_ij ‖p_i − q_j‖² between two point sets with uniform masses; the plan T comes
    from log-domain Sinkhorn on the (detached, max-normalised) cost, so the gradient is the plan's (envelope
    theorem), as with the exact plan EquiDock uses."""
    cost = torch.cdist(points, targets) ** 2
    with torch.no_grad():
        m = -cost / (cost.max().clamp(min=1e-9) * eps)
        log_a = torch.full((len(points),), -math.log(len(points)), dtype=cost.dtype, device=cost.device)
        log_b = torch.full((len(targets),), -math.log(len(targets)), dtype=cost.dtype, device=cost.device)
        f, g = torch.zeros_like(log_a), torch.zeros_like(log_b)
        for _ in range(iterations):
            f = log_a - torch.logsumexp(m + g[None, :], 1)
            g = log_b - torch.logsumexp(m + f[:, None], 0)
        plan = torch.exp(m + f[:, None] + g[None, :])
    return (plan * cost).sum()


def surface(x: torch.Tensor, atoms: torch.Tensor, sigma: float) -> torch.Tensor:
    """EquiDock's smooth surface function G(x) = −σ log Σ_j exp(−‖x − a_j‖² / σ): large outside the protein."""
    return -sigma * torch.logsumexp(-torch.cdist(x, atoms) ** 2 / sigma, dim=1)


def clash_loss(ligand: torch.Tensor, receptor: torch.Tensor, sigma: float = 25.0, gamma: float = 10.0) -> torch.Tensor:
    """Intersection loss: how deep each partner's Cα sit inside the other's surface (zero when apart)."""
    return (torch.relu(gamma - surface(ligand, receptor, sigma)).mean()
            + torch.relu(gamma - surface(receptor, ligand, sigma)).mean())


def pocket_points(ligand_true: torch.Tensor, receptor: torch.Tensor, cutoff: float = 8.0) -> torch.Tensor:
    """Midpoints of every (ligand, receptor) Cα pair closer than ``cutoff`` in the true complex."""
    li, ri = torch.nonzero(torch.cdist(ligand_true, receptor) < cutoff, as_tuple=True)
    return (ligand_true[li] + receptor[ri]) / 2


class DockingTask:
    """Loss, per-complex predictions (Cα CRMSD/IRMSD as EquiDock computes them) and their summaries."""

    def __init__(self, ot_weight: float = 1.0, clash_weight: float = 0.0, pocket_cutoff: float = 8.0):
        self.ot_weight, self.clash_weight, self.pocket_cutoff = ot_weight, clash_weight, pocket_cutoff

    def loss(self, out: DockOutput, batch: PairBatch) -> torch.Tensor:
        r, l = batch.receptor, batch.ligand
        total = out.ligand_pos.new_zeros(())
        for b in range(len(batch.ids)):
            lb, rb = l.batch == b, r.batch == b
            truth, x_lig, x_rec = l.y_pos[lb], l.pos[lb], r.pos[rb]
            total = total + ((out.ligand_pos[lb] - truth) ** 2).sum(-1).mean()
            if self.ot_weight:
                pocket = pocket_points(truth, x_rec, self.pocket_cutoff)
                if len(pocket):
                    with torch.no_grad():  # the true pose of the ligand's input frame in the receptor's
                        rot, trans = kabsch(x_lig, truth)
                    pocket_l = (pocket - trans) @ rot  # R^T (p - t), as rows
                    total = total + self.ot_weight * (ot_loss(out.keypoints_ligand[b], pocket_l)
                                                      + ot_loss(out.keypoints_receptor[b], pocket))
            if self.clash_weight:
                total = total + self.clash_weight * clash_loss(out.ligand_pos[lb], x_rec)
        return total / len(batch.ids)

    def predictions(self, out: DockOutput, batch: PairBatch) -> dict[str, np.ndarray]:
        r, l = batch.receptor, batch.ligand
        rows = {"complex": [], "crmsd": [], "irmsd": []}
        for b, cid in enumerate(batch.ids):
            lb, rb = l.batch == b, r.batch == b
            rec = r.pos[rb].detach().double().cpu().numpy()
            s = score_complex(out.ligand_pos[lb].detach().double().cpu().numpy(), rec,
                              l.y_pos[lb].double().cpu().numpy(), rec)
            rows["complex"].append(cid)
            rows["crmsd"].append(s.crmsd)
            rows["irmsd"].append(s.irmsd)
        return {k: np.asarray(v) for k, v in rows.items()}

    def metrics(self, collected) -> dict[str, float]:
        out = {}
        for what in ("crmsd", "irmsd"):
            s = summarize(collected[what])
            out.update({f"{what}_median": s["median"], f"{what}_mean": s["mean"]})
        return out


def docked_pose(model: DockingModel, receptor, ligand, cid: str = "input") -> tuple[np.ndarray, np.ndarray]:
    """(R, t) placing the ligand graph's frame into the receptor graph's, float64 numpy."""
    from torch_geometric.data import Batch

    model.eval()
    device = next(model.parameters()).device
    batch = PairBatch(Batch.from_data_list([receptor]), Batch.from_data_list([ligand]), [cid]).to(device)
    with torch.no_grad():
        out = model(batch)
    return out.rotation[0].double().cpu().numpy(), out.translation[0].double().cpu().numpy()

