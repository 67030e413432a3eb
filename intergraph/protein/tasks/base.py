"""The contract of a protein task: one class per task, registered once (:mod:`intergraph.protein.tasks`).

The CLI, ``evaluate``, ``predict``, ``compare`` and the demo only talk to this interface:

- ``config``: the run config type (a :class:`ProteinRun` with the task's own section); its ``train`` default
  names the monitored metric and its mode.
- ``experiment(cfg, run_dir, log)``: data, model and Lightning module for :func:`train.experiment.run_experiment`;
  its ``evaluate`` writes the test predictions and ``items.csv`` (one row per test complex or target).
- ``build_model(cfg, plm_dim)``: the network, for loading a finished run.
- ``evaluate(trained, data, out, log)``: a finished model (:class:`run.Trained`) on its own val/test split, or
  on every complex of another labelled source (``data``, a :class:`run.DataConfig`).
- ``predict(models, inputs, out, log)``: new inputs in, prediction files out.
- ``columns``: the test metrics of tables (name -> lower is better), read by ``test_metrics(results)``;
  ``gain``: the per-complex quantity whose paired differences get bootstrap intervals.
- ``pool(cfg, log)``: the complexes a comparison arm can serve; ``figure`` / ``notes`` for comparisons.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...errors import InputError
from ..plm import arms

ITEMS = "items.csv"


@dataclass(frozen=True)
class ItemGain:
    """A per-item (complex or target) statistic of a run's test set, read from its ``items.csv``:
    ``mean`` of ``columns[0]``, or ``pearson`` of ``columns[0]`` (prediction) against ``columns[1]`` (truth)."""

    name: str
    columns: tuple[str, ...]
    statistic: str = "mean"
    higher_is_better: bool = True


@dataclass
class PredictInputs:
    """New inputs of ``intergraph protein predict``; each task uses the ones it needs and says which."""

    receptor: Path | None = None
    ligand: Path | None = None
    pairs: Path | None = None         # CSV id,receptor,ligand
    models: Path | None = None        # a folder of complex models (quality assessment)
    native: Path | None = None
    receptor_chains: str = ""         # partner chains of complex files, e.g. "AB"
    ligand_chains: str = ""
    pocket: Path | None = None        # affinity
    protein: Path | None = None
    rename_chains: bool = False

    def pair_list(self) -> list[tuple[str, Path, Path]]:
        """(id, receptor, ligand) from ``--pairs`` or ``--receptor/--ligand``."""
        if self.pairs is not None:
            from ..pairs import read_pairs

            src = read_pairs(self.pairs)
            return [(cid, p.file("r"), p.file("l")) for cid, p in sorted(src.pairs.items())]
        if self.receptor is None or self.ligand is None:
            raise InputError("give --receptor and --ligand, or --pairs CSV")
        return [(pair_name(self.receptor, self.ligand), self.receptor, self.ligand)]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".pdb", ".ent", ".cif", ".mmcif"):
        name = name.removesuffix(suffix)
    return name


def pair_name(receptor: Path, ligand: Path) -> str:
    """What two partner files have in common (``1AVX_r.pdb``, ``1AVX_l.pdb`` -> ``1AVX``), else the receptor's
    name."""
    import os

    a, b = _stem(receptor), _stem(ligand)
    common = os.path.commonprefix([a, b]).rstrip("_-. ")
    return common or a


class TaskSpec:
    """Defaults shared by the tasks; each task overrides what it does differently."""

    name: str = ""
    description: str = ""
    config: type
    columns: dict[str, bool] = {}
    gain: ItemGain
    predict_help: str = ""

    def default_config(self):
        return self.config(task=self.name)

    def plm_dim(self, cfg) -> int | None:
        return arms.width(cfg.data.plm, cfg.data.cache_dir, cfg.data.plm_model, cfg.data.plm_layers)

    def build_model(self, cfg, plm_dim: int | None):
        raise NotImplementedError

    def experiment(self, cfg, run_dir: Path, log: Callable):
        raise NotImplementedError

    def evaluate(self, trained, data, out: Path, log: Callable) -> dict:
        raise NotImplementedError

    def predict(self, models: list, inputs: PredictInputs, out: Path, log: Callable) -> list[Path]:
        raise InputError(f"task {self.name} has no prediction on new inputs")

    def test_metrics(self, results: dict) -> dict[str, float]:
        """The table columns of one run's metrics.json."""
        return {k: float(results["test"][k]) for k in self.columns}

    def pool(self, cfg, log: Callable = print) -> list[str]:
        raise NotImplementedError

    def figure(self, rows: list[dict], path: Path) -> Path | None:
        return None

    def notes(self, rows: list[dict]) -> list[str]:
        return []


def write_items(rows: list[dict], path: Path) -> Path:
    """``items.csv``: one row per test complex / target (``item`` first)."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["item"])
        w.writeheader()
        w.writerows(rows)
    return path


def write_ranking(rows: list[dict], key: str, out: Path) -> Path:
    """``out/ranking.csv``: the rows (one per model) sorted by ``key``, best first, with ``rank`` in front and
    floats to 4 decimals; the rows get their rank too."""
    rows.sort(key=lambda r: -r[key])
    for k, r in enumerate(rows, start=1):
        r["rank"] = k
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ranking.csv"
    cols = ["rank"] + [c for c in rows[0] if c != "rank"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows({c: (f"{r[c]:.4f}" if isinstance(r[c], float) else r[c]) for c in cols} for r in rows)
    return path


def read_items(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
