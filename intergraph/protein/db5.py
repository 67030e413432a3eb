"""Docking Benchmark 5.5 (as distributed with EquiDock): complexes, splits, difficulty and labelled graphs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch_geometric.data import Data

from ..data import dataset_path
from ..graph.cache import GraphCache
from .featurize import GraphConfig, featurize, graph_nodes
from .interface import interface_labels
from .io import read_structure
from .plm.align import align, attach, attach_from_store
from .plm.store import EmbeddingStore

Role = Literal["r", "l"]
Form = Literal["b", "u"]
# Bump when what _compute stores per complex changes (cached items of older versions are then recomputed).
ITEM_VERSION = 2

DIFFICULTY = ("rigid", "medium", "difficult")


@dataclass
class PLMSource:
    """Where node embeddings come from: a store, the model id and layer key they were stored under."""

    store: str | Path
    model: str
    layers: str
    min_identity: float = 0.9
    min_coverage: float = 0.5


@dataclass
class ComplexGraphs:
    """Receptor and ligand graphs of one complex; bound graphs carry ``y_ca`` and ``y_heavy`` labels."""

    id: str
    receptor: Data
    ligand: Data


class DB5:
    """The 271 DB5.5 complexes under ``root`` (default ``INTERGRAPH_DATA/db5``).

    ``split`` selects the EquiDock split (train/val/test: 203/25/25) or all complexes (None). ``form``
    chooses bound (``b``) or unbound (``u``) structures. Interface labels are computed on the bound
    complex; unbound residues inherit them through a sequence alignment to the bound partner (``y_mask``
    marks residues with a label). Graphs and labels are cached under ``cache_dir`` by content.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        split: str | None = None,
        form: Form = "b",
        config: GraphConfig = GraphConfig(),
        cache_dir: str | Path | None = None,
        ca_cutoff: float = 8.0,
        heavy_cutoff: float = 6.0,
        plm: PLMSource | None = None,
        ids: list[str] | None = None,
    ):
        self.root = Path(root) if root is not None else dataset_path("db5")
        if form not in ("b", "u"):
            raise ValueError(f"form must be 'b' (bound) or 'u' (unbound), not {form!r}")
        self.form = form
        self.config = config
        self.ca_cutoff, self.heavy_cutoff = ca_cutoff, heavy_cutoff
        self.cache = GraphCache(cache_dir, "db5") if cache_dir is not None else None
        self.all_ids = sorted({p.name.split("_")[0] for p in (self.root / "structures").glob("*_r_b.pdb*")})
        self.splits = {s: self._read_list(self.root / "splits" / f"{s}.txt") for s in ("train", "val", "test")}
        self.difficulty = self._read_difficulty()
        if split is None:
            self.ids = self.all_ids
        elif split in self.splits:
            self.ids = self.splits[split]
        else:
            raise ValueError(f"unknown split {split!r}; choose one of {sorted(self.splits)} or None")
        if ids is not None:
            self.ids = [i for i in self.ids if i in set(ids)]
        self.plm = plm
        self._store = EmbeddingStore(plm.store, readonly=True) if plm else None
        missing = [i for i in self.ids if i not in set(self.all_ids)]
        if missing:
            raise FileNotFoundError(f"{self.root}: split {split} names complexes without structures: {missing[:5]}")

    @staticmethod
    def _read_list(path: Path) -> list[str]:
        if not path.exists():
            return []
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

    def _read_difficulty(self) -> dict[str, str]:
        """Complex id -> difficulty class. One DB5 complex is listed twice; the harder class wins."""
        out: dict[str, str] = {}
        for cls in DIFFICULTY:
            for entry in self._read_list(self.root / f"{cls}.txt"):
                out[entry.rstrip("*").split("_")[0]] = cls
        return out

    def __len__(self) -> int:
        return len(self.ids)

    def path(self, cid: str, role: Role, form: Form | None = None) -> Path:
        form = form or self.form
        for suffix in (".pdb.gz", ".pdb"):
            p = self.root / "structures" / f"{cid}_{role}_{form}{suffix}"
            if p.exists():
                return p
        raise FileNotFoundError(f"{self.root / 'structures'}: no {cid}_{role}_{form}.pdb[.gz]")

    def structure(self, cid: str, role: Role, form: Form | None = None):
        return read_structure(self.path(cid, role, form))

    def _compute(self, cid: str) -> dict:
        """Graphs of the chosen form with labels from the bound complex; unbound graphs inherit them through
        a sequence alignment of each partner to its bound form (``y_mask`` False where no residue matches)."""
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

    def __getitem__(self, i: int | str) -> ComplexGraphs:
        cid = self.ids[i] if isinstance(i, (int, np.integer)) else i
        if self.cache is None:
            d = self._compute(cid)
        else:
            files = [self.path(cid, r, f) for f in sorted({"b", self.form}) for r in "rl"]
            key = f"{self.config.key()}-{self.form}-{self.ca_cutoff:g}-{self.heavy_cutoff:g}-v{ITEM_VERSION}"
            d = self.cache.get_or_compute(files, key, lambda: self._compute(cid))
        item = ComplexGraphs(cid, Data.from_dict(d["receptor"]), Data.from_dict(d["ligand"]))
        if self.plm is not None:
            for role, graph in (("r", item.receptor), ("l", item.ligand)):
                self.attach_plm(cid, role, graph)
        return item

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
        """Complexes of this split whose both partners have embeddings (by name or by chain sequence)."""
        if self.plm is None:
            return list(self.ids)
        out = []
        for cid in self.ids:
            if all(self.embedded_name(cid, role) is not None or self._chains_embedded(cid, role) for role in "rl"):
                out.append(cid)
        return out

    def _chains_embedded(self, cid: str, role: Role) -> bool:
        chains = self.structure(cid, role).chains()
        return not self._store.missing(self.plm.model, self.plm.layers, [c.sequence for c in chains])
