"""How PLM embeddings enter a geometric encoder: four modes behind one flag.

``none``    residue-type embedding only (the no-PLM baseline);
``replace`` the PLM vector replaces the residue-type embedding (the paper's code; widens the input layer);
``concat``  residue-type embedding and PLM vector side by side;
``project`` residue-type embedding + Linear(LayerNorm(PLM)) to the same width (default: the encoder keeps
            its size, only the projection is added);
``gated``   as ``project``, with a learned sigmoid gate on the projected PLM vector.
Nodes whose ``plm_mask`` is False contribute no PLM signal (zeros).
"""
from __future__ import annotations

import torch
from torch import nn

from ...errors import InputError
from ..residues import NUM_RESIDUE_TYPES

FUSIONS = ("none", "replace", "concat", "project", "gated")


class ResidueFeatures(nn.Module):
    def __init__(self, fusion: str = "project", plm_dim: int | None = None, type_dim: int = 32):
        super().__init__()
        if fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {FUSIONS}, not {fusion!r}")
        if fusion != "none" and not plm_dim:
            raise InputError(f"fusion {fusion!r} needs PLM features (plm_dim)")
        self.fusion, self.plm_dim = fusion, plm_dim
        if fusion != "replace":
            self.types = nn.Embedding(NUM_RESIDUE_TYPES, type_dim)
        if fusion in ("project", "gated"):
            self.project = nn.Sequential(nn.LayerNorm(plm_dim), nn.Linear(plm_dim, type_dim))
        if fusion == "gated":
            self.gate = nn.Linear(2 * type_dim, type_dim)
        self.out_dim = {"none": type_dim, "replace": plm_dim, "concat": type_dim + (plm_dim or 0),
                        "project": type_dim, "gated": type_dim}[fusion]

    def forward(self, data) -> torch.Tensor:
        if self.fusion == "none":
            return self.types(data.residue_type)
        plm = getattr(data, "plm", None)
        if plm is None:
            raise InputError(f"fusion {self.fusion!r} needs graphs with PLM features (attach them from a store)")
        mask = data.plm_mask.to(plm.dtype)[:, None]
        if self.fusion == "replace":
            return plm * mask
        t = self.types(data.residue_type)
        if self.fusion == "concat":
            return torch.cat([t, plm * mask], -1)
        p = self.project(plm) * mask
        if self.fusion == "gated":
            p = torch.sigmoid(self.gate(torch.cat([t, p], -1))) * p
        return t + p
