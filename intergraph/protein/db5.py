"""Docking Benchmark 5.5 (as distributed with EquiDock): one instance of a pair source, plus its difficulty
classes and EquiDock's test protocol folder."""
from __future__ import annotations

from pathlib import Path

from ..data import dataset_path
from ..errors import InputError
from .complexes import ComplexSet, Form
from .featurize import GraphConfig
from .pairs import read_pairs
from .plm.arms import PLMSource

DIFFICULTY = ("rigid", "medium", "difficult")


class DB5(ComplexSet):
    """The 271 DB5.5 complexes under ``root`` (default ``INTERGRAPH_DATA/db5``).

    ``split`` selects the EquiDock split (train/val/test: 203/25/25) or all complexes (None); ``form``,
    ``config``, ``cache_dir``, cutoffs and ``plm`` as for :class:`ComplexSet`."""

    def __init__(self, root: str | Path | None = None, split: str | None = None, form: Form = "b",
                 config: GraphConfig = GraphConfig(), cache_dir: str | Path | None = None, ca_cutoff: float = 8.0,
                 heavy_cutoff: float = 6.0, plm: PLMSource | None = None, ids: list[str] | None = None):
        self.root = Path(root) if root is not None else dataset_path("db5")
        super().__init__(read_pairs(self.root), form, config, cache_dir, ca_cutoff, heavy_cutoff, plm)
        if split is not None and split not in self.splits:
            raise InputError(f"unknown split {split!r}; choose one of {sorted(self.splits)} or None")
        chosen = self.splits[split] if split is not None else self.all_ids
        self.ids = [i for i in chosen if ids is None or i in set(ids)]
        self.difficulty = self._read_difficulty()

    def _read_difficulty(self) -> dict[str, str]:
        """Complex id -> difficulty class. One DB5 complex is listed twice; the harder class wins."""
        out: dict[str, str] = {}
        for cls in DIFFICULTY:
            path = self.root / f"{cls}.txt"
            if path.exists():
                for entry in filter(None, (line.strip() for line in path.read_text().splitlines())):
                    out[entry.rstrip("*").split("_")[0]] = cls
        return out


def protocol_root() -> Path:
    """EquiDock's DB5 test protocol: ``complexes/`` (truth), ``random_transformed/`` (inputs), ``baselines/``."""
    return dataset_path("db5") / "docking_test"
