"""Sets of single-chain models: ``psr_casp13`` or any folder in its layout, ``labels.csv``
(``target,model,gdt_ts,lddt,tm_score``) beside ``targets/<target>/native.pdb[.gz]`` and
``targets/<target>/models/<model>.pdb[.gz]``; apart from them, the targets without a native
(``labels_official_only_no_native.csv`` + ``extra_no_native/<target>/models/``: official GDT_TS and TM-score;
their all-atom lDDT is not comparable with the Cα-lDDT and is left out), read by :func:`read_extra_sets` as a
held-out test set."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from ....data import dataset_path
from ....errors import InputError, MissingError
from ...io import STRUCTURE_SUFFIXES


@dataclass
class ChainModel:
    target: str
    name: str
    path: Path
    gdt_ts: float            # fraction in [0, 1]
    tm_score: float
    lddt: float = math.nan   # Cα-lDDT; NaN where the source has none


@dataclass
class ModelSet:
    target: str
    native: Path | None
    models: list[ChainModel] = field(default_factory=list)


def _structure(folder: Path, stem: str) -> Path | None:
    for suffix in STRUCTURE_SUFFIXES:
        if (folder / f"{stem}{suffix}").exists():
            return folder / f"{stem}{suffix}"
    return None


def _read(labels: Path, targets: Path, lddt: bool, sets: dict, skipped: list) -> None:
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"target", "model", "gdt_ts", "tm_score"} | ({"lddt"} if lddt else set())
    if rows and not need <= set(rows[0]):
        raise InputError(f"{labels}: columns {sorted(need - set(rows[0]))} missing")
    for k, r in enumerate(rows, start=2):
        folder = targets / r["target"]
        path = _structure(folder / "models", r["model"])
        if path is None:
            skipped.append((f"{r['target']}/{r['model']}", f"no model file in {folder / 'models'}"))
            continue
        try:
            values = [float(r[c]) for c in ("gdt_ts", "tm_score")] + [float(r["lddt"]) if lddt else math.nan]
        except ValueError:
            raise InputError(f"{labels}: line {k}: a label is not a number") from None
        if not 0.0 <= values[0] <= 1.0:
            raise InputError(f"{labels}: line {k}: gdt_ts {values[0]} is not a fraction in [0, 1]")
        s = sets.setdefault(r["target"], ModelSet(r["target"], _structure(folder, "native")))
        s.models.append(ChainModel(r["target"], r["model"], path, *values))


EXTRA_LABELS, EXTRA_TARGETS = "labels_official_only_no_native.csv", "extra_no_native"


def _root(source: str | Path) -> Path:
    return dataset_path(source) if str(source) == "psr_casp13" else Path(source)


def read_model_sets(source: str | Path) -> tuple[dict[str, ModelSet], list[tuple[str, str]]]:
    """Model sets by target (with natives), and the listed models whose file is missing."""
    root = _root(source)
    if not (root / "labels.csv").exists():
        raise MissingError(f"{root}: no labels.csv (target,model,gdt_ts,lddt,tm_score)")
    sets: dict[str, ModelSet] = {}
    skipped: list[tuple[str, str]] = []
    _read(root / "labels.csv", root / "targets", True, sets, skipped)
    return sets, skipped


def read_extra_sets(source: str | Path) -> tuple[dict[str, ModelSet], list[tuple[str, str]]]:
    """The source's targets without a native (official labels only) by target, and the missing model files."""
    root = _root(source)
    if not (root / EXTRA_LABELS).exists():
        raise MissingError(f"{root}: no {EXTRA_LABELS} (target,model,gdt_ts,tm_score) for the extra test set")
    sets: dict[str, ModelSet] = {}
    skipped: list[tuple[str, str]] = []
    _read(root / EXTRA_LABELS, root / EXTRA_TARGETS, False, sets, skipped)
    return sets, skipped
