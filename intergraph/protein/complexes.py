"""Residue graphs with interface labels for the complexes of any pair source (:mod:`.pairs`), and their batches.

Labels come from the bound complex (the source's bound files, in one frame); unbound graphs inherit them
through a sequence alignment to the bound partner (``y_mask`` False where no residue matches). Graphs and
labels are cached by file content; PLM features are attached on access.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from ..errors import InputError
from ..graph.cache import GraphCache
from .featurize import GraphConfig, featurize, graph_nodes
from .io import read_structure
from .labels import interface_labels
from .pairs import PairSource, fingerprint, read_pairs
from .plm.align import align, attach, attach_from_store
from .plm.arms import PLMSource
from .plm.store import EmbeddingStore

Role = Literal["r", "l"]
Form = Literal["b", "u"]
# Bump when what _compute stores per complex changes (cached items of older versions are then recomputed).
ITEM_VERSION = 2


@dataclass
class ComplexGraphs:
    """Receptor and ligand graphs of one complex; bound graphs carry ``y_ca`` and ``y_heavy`` labels."""

    id: str
    receptor: Data
    ligand: Data


@dataclass
class PairBatch:
    receptor: Batch
    ligand: Batch
    ids: list[str]

    def to(self, device, **kwargs):
        return PairBatch(self.receptor.to(device), self.ligand.to(device), self.ids)


def collate_pairs(items: list[ComplexGraphs]) -> PairBatch:
    return PairBatch(Batch.from_data_list([it.receptor for it in items]),
                     Batch.from_data_list([it.ligand for it in items]), [it.id for it in items])


class ComplexSet:
    """The complexes of ``source`` (a :class:`PairSource`, or what :func:`read_pairs` reads) as labelled
    residue graphs; ``set[id]`` is a :class:`ComplexGraphs`.

    ``form`` chooses bound (``b``) or unbound (``u``) input structures. Interface labels (any heavy atom
    < ``heavy_cutoff`` Å, or Cα < ``ca_cutoff`` Å of the partner) are computed on the bound complex."""

    def __init__(self, source: PairSource | str | Path = "db5", form: Form = "b", config: GraphConfig = GraphConfig(),
                 cache_dir: str | Path | None = None, ca_cutoff: float = 8.0, heavy_cutoff: float = 6.0,
                 plm: PLMSource | None = None, ids: list[str] | None = None):
        self.source = source if isinstance(source, PairSource) else read_pairs(source)
        if form not in ("b", "u"):
            raise InputError(f"form must be 'b' (bound) or 'u' (unbound), not {form!r}")
        self.form, self.config = form, config
        self.ca_cutoff, self.heavy_cutoff = ca_cutoff, heavy_cutoff
        self.cache = GraphCache(cache_dir, "complexes") if cache_dir is not None else None
        self.all_ids = self.source.ids
        self.splits = {s: list(v) for s, v in self.source.splits.items()}
        self.ids = self.all_ids if ids is None else [i for i in self.all_ids if i in set(ids)]
        self.set_plm(plm)

    def set_plm(self, plm: PLMSource | None) -> None:
        """Attach embeddings of ``plm`` to every item from now on (None: no PLM features)."""
        self.plm = plm
        self._store = EmbeddingStore(plm.store, readonly=True) if plm else None

    def __len__(self) -> int:
        return len(self.ids)

    def path(self, cid: str, role: Role, form: Form | None = None) -> Path:
        return self.source.pairs[cid].file(role, form or self.form)

    def structure(self, cid: str, role: Role, form: Form | None = None):
        return read_structure(self.path(cid, role, form))

    def files(self, form: Form | None = None) -> list[Path]:
        """The input structure files of every complex of this set (``form`` default: the set's)."""
        return [self.path(cid, role, form) for cid in self.ids for role in "rl"]

    def _compute(self, cid: str) -> dict:
        bound = {role: self.structure(cid, role, "b") for role in "rl"}
        lab = interface_labels(bound["r"], bound["l"], self.ca_cutoff, self.heavy_cutoff)
        labels = {"r": (lab.receptor_ca, lab.receptor_heavy), "l": (lab.ligand_ca, lab.ligand_heavy)}
        out = {}
        for role, key in (("r", "receptor"), ("l", "ligand")):
            s = bound[role] if self.form == "b" else self.structure(cid, role)
            g = featurize(s, self.config, name=f"{cid}_{role}_{self.form}")
            ca, heavy = labels[role]
            if self.form == "b":
                rows = np.arange(g.num_nodes)
            else:
                nodes, _, _ = graph_nodes(bound[role])
                rows = align("".join(bound[role].res_letter[nodes]), g.sequence).rows
            mask = rows >= 0
            g.y_ca = torch.from_numpy(np.where(mask, ca[rows.clip(min=0)], False))
            g.y_heavy = torch.from_numpy(np.where(mask, heavy[rows.clip(min=0)], False))
            g.y_mask = torch.from_numpy(mask)
            out[key] = g.to_dict()
        return out

    def graphs(self, cid: str) -> ComplexGraphs:
        """Labelled graphs of complex ``cid`` without PLM features."""
        if self.cache is None:
            d = self._compute(cid)
        else:
            files = [self.path(cid, r, f) for f in sorted({"b", self.form}) for r in "rl"]
            key = f"{self.config.key()}-{self.form}-{self.ca_cutoff:g}-{self.heavy_cutoff:g}-v{ITEM_VERSION}"
            d = self.cache.get_or_compute(files, key, lambda: self._compute(cid))
        return ComplexGraphs(cid, Data.from_dict(d["receptor"]), Data.from_dict(d["ligand"]))

    def __getitem__(self, i: int | str) -> ComplexGraphs:
        cid = self.ids[i] if isinstance(i, (int, np.integer)) else i
        item = self.graphs(cid)
        if self.plm is not None:
            for role, graph in (("r", item.receptor), ("l", item.ligand)):
                self.attach_plm(cid, role, graph)
        return item

    def fingerprints(self, ids: list[str]) -> dict[str, dict]:
        """Sequences and coordinate hashes of the bound partners (:func:`pairs.fingerprint`), for duplicates."""
        out = {}
        for cid in ids:
            if self.form == "b":
                it = self.graphs(cid)
                out[cid] = fingerprint(it.receptor, it.ligand)
            else:
                parts = [featurize(self.structure(cid, r, "b")) for r in "rl"]
                out[cid] = fingerprint(*parts)
        return out

    def embedded_name(self, cid: str, role: Role) -> tuple[str, np.ndarray] | None:
        """A whole-partner embedding stored under a name: ``{id}_{role}``, or DeepRank-GNN-esm's
        ``{id}.A`` (receptor) / ``{id}.B`` (ligand) used by the shared ESM-2 650M files."""
        for name in (f"{cid}_{role}", f"{cid}.{'A' if role == 'r' else 'B'}"):
            hit = self._store.get_named(self.plm.model, self.plm.layers, name)
            if hit is not None and hit[1] is not None:
                return hit
        return None

    def attach_plm(self, cid: str, role: Role, graph: Data) -> None:
        """PLM features of partner ``role`` of complex ``cid`` onto ``graph`` (any graph of that partner, e.g.
        one read from a moved copy of its file): by stored name, else by chain sequence."""
        p = self.plm
        named = self.embedded_name(cid, role)
        if named is not None:
            attach(graph, {None: named}, p.min_identity, p.min_coverage)
        else:
            attach_from_store(graph, self._store, p.model, p.layers,
                              min_identity=p.min_identity, min_coverage=p.min_coverage)

    def ids_with_embeddings(self) -> list[str]:
        """Complexes of this set whose both partners have embeddings (by name or by chain sequence)."""
        if self.plm is None:
            return list(self.ids)
        return [cid for cid in self.ids
                if all(self.embedded_name(cid, role) is not None or self._chains_embedded(cid, role) for role in "rl")]

    def _chains_embedded(self, cid: str, role: Role) -> bool:
        chains = self.structure(cid, role).chains()
        return not self._store.missing(self.plm.model, self.plm.layers, [c.sequence for c in chains])
