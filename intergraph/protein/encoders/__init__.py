"""Geometric encoders of residue graphs with PLM fusion: ``ResidueEncoder(kind, fusion, plm_dim)``."""
from __future__ import annotations

import torch
from torch import nn

from ...errors import InputError
from .egnn import EGNNEncoder
from .fusion import FUSIONS, ResidueFeatures
from .gvp import GVPEncoder
from .molformer import MolformerEncoder

ENCODERS = ("gvp", "egnn", "molformer")


class ResidueEncoder(nn.Module):
    """Residue features (fused with the PLM) + geometric features -> per-node embeddings.

    ``forward(data)`` returns (h, geometry): h (n, out_dim) is invariant to rigid motions of the input;
    geometry is the GVP's vector channels (n, 16, 3), or EGNN/Molformer coordinates (n, 3), equivariant.
    """

    def __init__(self, kind: str = "gvp", fusion: str = "none", plm_dim: int | None = None, node_s_dim: int = 7,
                 edge_s_dim: int = 33, out_dim: int = 128, layers: int | None = None, dropout: float = 0.1,
                 update_coords: bool = False):
        super().__init__()
        if kind not in ENCODERS:
            raise InputError(f"encoder must be one of {ENCODERS}, not {kind!r}")
        self.kind = kind
        self.features = ResidueFeatures(fusion, plm_dim)
        node_in = self.features.out_dim + node_s_dim
        if kind == "gvp":
            self.encoder = GVPEncoder((node_in, 3), (edge_s_dim, 1), layers=layers or 5, out_dim=out_dim,
                                      drop_rate=dropout)
        elif kind == "egnn":
            self.encoder = EGNNEncoder(node_in, edge_s_dim, layers=layers or 4, out_dim=out_dim,
                                       update_coords=update_coords)
        else:
            self.encoder = MolformerEncoder(node_in, layers=layers or 4, out_dim=out_dim, dropout=dropout)
        self.out_dim = out_dim

    def forward(self, data):
        s = torch.cat([self.features(data), data.node_s], -1)
        if self.kind == "gvp":
            return self.encoder(s, data.node_v, data.edge_index, data.edge_s, data.edge_v)
        if self.kind == "egnn":
            return self.encoder(s, data.edge_index, data.edge_s, data.pos)
        return self.encoder(s, data.edge_index, data.pos, getattr(data, "batch", None))


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["ENCODERS", "FUSIONS", "ResidueEncoder", "ResidueFeatures", "parameter_count"]
