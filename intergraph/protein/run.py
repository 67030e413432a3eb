"""What every protein task's run shares: the typed config, which complexes it uses (source, PLM coverage,
duplicates, split), the encoder, and the entry points the CLI, ``compare`` and the demo call — ``train``
(one run, or a k-fold run of one run per fold), ``load_models``, ``evaluate`` and ``predict`` — which find
the task in the registry (:mod:`.tasks`) and never branch on its name.

A run folder holds ``config.yaml`` (``task:`` names the task), checkpoints, ``metrics.csv``, TensorBoard logs,
``metrics.json`` and the task's prediction files; a k-fold run holds one such folder per fold (``fold0`` ...)
and ``metrics.json`` with the per-fold test metrics and their mean and standard deviation.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError, MissingError
from ..train.config import TrainConfig, claim_run_dir, load_yaml
from ..train.experiment import METRICS, RunBusy, run_experiment, wait_for
from ..train.loop import load_checkpoint
from .complexes import ComplexSet
from .encoders import ResidueEncoder
from .featurize import GraphConfig
from .pairs import duplicate_groups, renamed_copies, split_ids
from .plm import arms


@dataclass
class DataConfig:
    """Which complexes a run learns from and how they are split."""

    source: str = "db5"      # db5, a folder of pairs, a CSV of pairs (affinity: its own sources)
    form: str = "b"          # input structures: b (bound) or u (unbound; labels transferred by alignment)
    label: str = "heavy"     # interface definition: heavy (any heavy atom < 6 Å) or ca (Cα < 8 Å)
    plm: str = "none"        # none | default (our own PLM) | esm2_650m (shared real embeddings) | a store path
    plm_model: str = ""      # for a store path: the model id inside it
    plm_layers: str = ""
    split: str = "auto"      # auto (given when the source has split lists, else random) | given | random | kfold | test
    folds: int = 5           # kfold: number of folds
    fold: int | None = None  # kfold: this fold; None: a k-fold run (one run per fold)
    split_seed: int = 0      # random / kfold assignment (whole duplicate groups)
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    ids: list[str] | None = None        # restrict the source to these complexes (a comparison's shared pool)
    train_ids: list[str] | None = None  # explicit splits (override everything above)
    val_ids: list[str] | None = None
    test_ids: list[str] | None = None
    cache_dir: str = "cache"            # graphs and embeddings (a location: not part of a run's identity)


@dataclass
class ModelConfig:
    encoder: str = "gvp"
    fusion: str = "project"  # used when data.plm != none
    layers: int | None = None
    out_dim: int = 128
    dropout: float = 0.1


@dataclass
class ProteinRun:
    """The config of one protein run; each task's config subclasses it and adds its own section."""

    task: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# --- data ------------------------------------------------------------------------------------------------

def plm_source(data: DataConfig, cset: ComplexSet | None = None) -> arms.PLMSource | None:
    """The run's PLM arm; the own PLM embeds the chains of ``cset`` (its input form) on first use."""
    files = cset.files() if cset is not None and data.plm == "default" else ()
    return arms.resolve(data.plm, data.cache_dir, files, data.plm_model, data.plm_layers)


def complex_set(data: DataConfig, form: str | None = None) -> ComplexSet:
    """The source's complexes as labelled graphs, with the run's PLM features attached."""
    cset = ComplexSet(data.source, form=form or data.form, config=GraphConfig(), cache_dir=data.cache_dir,
                      ids=data.ids)
    cset.set_plm(plm_source(data, cset))
    return cset


def pool(cset: ComplexSet, exclude: set[str] = frozenset(), log: Callable = print) -> list[str]:
    """The complexes a run can use: those of the set (minus ``exclude``) whose partners have PLM features
    (when it uses a PLM), without renamed copies of one another (reported)."""
    ids = [i for i in cset.ids_with_embeddings() if i not in exclude]
    copies = renamed_copies(cset.fingerprints(ids), prefer=set().union(*cset.splits.values()) if cset.splits else set())
    for copy_id, kept in sorted(copies.items()):
        log(f"{copy_id} left out: the same complex as {kept} (same sequences, a shared partner's coordinates)")
    return [i for i in ids if i not in copies]


def select(data: DataConfig, cset: ComplexSet, exclude: set[str] = frozenset(), log: Callable = print
           ) -> dict[str, list[str]]:
    """Train / val / test complex ids of a run (see :class:`DataConfig`)."""
    if data.train_ids is not None or data.test_ids is not None:
        covered = set(cset.ids_with_embeddings()) - set(exclude)
        return {s: [i for i in (getattr(data, f"{s}_ids") or []) if i in covered] for s in ("train", "val", "test")}
    how = data.split
    if how == "auto":
        how = "given" if cset.splits else "random"
    if how == "given":  # the source's own lists: no renamed copies to look for, no groups to keep together
        return split_ids([i for i in cset.ids_with_embeddings() if i not in exclude], "given", cset.splits)
    ids = pool(cset, exclude, log)
    groups = duplicate_groups(cset.fingerprints(ids)) if how in ("random", "kfold") else None
    return split_ids(ids, how, None, groups, data.folds, data.fold, data.split_seed, data.val_fraction,
                     data.test_fraction)


def build_encoder(model: ModelConfig, dim: int | None, **kw) -> ResidueEncoder:
    """The residue encoder of a run; ``dim`` is the PLM width (None: no PLM)."""
    return ResidueEncoder(model.encoder, model.fusion if dim else "none", dim, out_dim=model.out_dim,
                          layers=model.layers, dropout=model.dropout, **kw)


# --- runs ------------------------------------------------------------------------------------------------

def read_config(path: str | Path):
    """A run config from YAML, typed by the task its ``task:`` key names."""
    import yaml

    from .tasks import task

    path = Path(path)
    if not path.exists():
        raise MissingError(f"{path}: no such config file")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict) or "task" not in raw:
        from .tasks import names

        raise InputError(f"{path}: not a protein run config (no `task:`; configs written before the task registry "
                         f"lack it: add `task: {'|'.join(names())}`)")
    return load_yaml(task(raw["task"]).config, path)


def is_kfold(cfg) -> bool:
    return cfg.data.split == "kfold" and cfg.data.fold is None


def fold_config(cfg, k: int):
    out = copy.deepcopy(cfg)
    out.data.fold = k
    return out


def _attempt(cfg, run_dir: Path, spec, progress: bool, log: Callable, overwrite: bool = False) -> dict | None:
    """One run, or None when another process is training it."""
    try:
        return run_experiment(cfg, run_dir, lambda d: spec.experiment(cfg, d, log), progress, log, overwrite)
    except RunBusy as e:
        log(f"skipped for now: {e}")
        return None


def _finish(cfg, run_dir: Path, spec, progress: bool, log: Callable) -> dict:
    """A run another process holds: its metrics once it is done, or trained here if it was left unfinished."""
    while True:
        got = wait_for(run_dir, log=log)
        if got is None:
            got = _attempt(cfg, run_dir, spec, progress, log)
        if got is not None:
            return got


def train(cfg, run_dir: str | Path, progress: bool = True, log: Callable = print, overwrite: bool = False,
          wait: bool = True) -> dict:
    """Train (or resume) a run of any task; a k-fold config trains one run per fold into ``fold<k>/``.

    Runs another process is training (the same command started on another worker) are left to it: with
    ``wait`` this returns once they are done, else it raises :class:`RunBusy` after doing what it could."""
    from .tasks import task

    spec = task(cfg.task)
    run_dir = Path(run_dir)
    if not is_kfold(cfg):
        got = _attempt(cfg, run_dir, spec, progress, log, overwrite)
        if got is None and not wait:
            raise RunBusy(f"{run_dir} is being trained by another process")
        return got if got is not None else _finish(cfg, run_dir, spec, progress, log)
    run_dir = claim_run_dir(cfg, run_dir, overwrite)
    if (run_dir / METRICS).exists():
        return json.loads((run_dir / METRICS).read_text())
    per_fold: dict[int, dict | None] = {}
    for k in range(cfg.data.folds):
        log(f"fold {k + 1}/{cfg.data.folds}")
        per_fold[k] = _attempt(fold_config(cfg, k), run_dir / f"fold{k}", spec, progress, log)
    busy = [k for k, r in per_fold.items() if r is None]
    if busy and not wait:
        raise RunBusy(f"{run_dir}: folds {busy} are being trained by another process")
    for k in busy:
        per_fold[k] = _finish(fold_config(cfg, k), run_dir / f"fold{k}", spec, progress, log)
    if not all(per_fold.values()):  # a DDP rank other than 0
        return {}
    return write_kfold_summary(spec, [per_fold[k] for k in sorted(per_fold)], run_dir)


def write_kfold_summary(spec, per_fold: list[dict], run_dir: Path) -> dict:
    """``metrics.json`` of a k-fold run: each fold's test metrics (the task's table columns) and their mean and
    standard deviation over folds."""
    rows = [spec.test_metrics(r) for r in per_fold]
    summary = {"parameters": per_fold[0]["parameters"], "folds": rows,
               "epochs": [r.get("epochs") for r in per_fold]}
    for stat, fn in (("mean", np.nanmean), ("std", np.nanstd)):
        summary[stat] = {m: float(fn([r[m] for r in rows])) for m in rows[0]}
    (run_dir / METRICS).write_text(json.dumps(summary, indent=1, default=float))
    return summary


def run_folders(run_dir: str | Path) -> list[Path]:
    """The single-model run folders of a run: itself, or its folds."""
    run_dir = Path(run_dir)
    folds = sorted((p for p in run_dir.glob("fold*") if (p / "config.yaml").exists()),
                   key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else -1)
    return folds or [run_dir]


@dataclass
class Trained:
    """One trained model of a run: its config, the network with its best weights, its folder."""

    cfg: object
    model: object
    folder: Path


def load_models(run_dir: str | Path) -> list[Trained]:
    """The best model of each single-model folder of a finished run (itself, or one per fold)."""
    from .tasks import task

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise MissingError(f"{run_dir}: not a run folder (no config.yaml)")
    out = []
    for folder in run_folders(run_dir):
        cfg = read_config(folder / "config.yaml")
        ckpt = folder / "checkpoints" / "best.ckpt"
        if not ckpt.exists():
            raise MissingError(f"{folder}: not a finished run (no checkpoints/best.ckpt)")
        spec = task(cfg.task)
        model = spec.build_model(cfg, spec.plm_dim(cfg))
        out.append(Trained(cfg, load_checkpoint(model, ckpt, prefix="model.").eval(), folder))
    return out


def evaluate(run_dir: str | Path, data: str | None = None, out: Path | None = None, log: Callable = print,
             overrides: list[str] = ()) -> dict:
    """Re-evaluate a finished run's best model(s): on its own validation and test complexes, or with ``data``
    (a source) on every complex of that source; ``overrides`` (``SECTION.NAME=VALUE``) change the settings the
    evaluation's data are made with (the networks are the trained ones). A k-fold run evaluates each fold's
    model."""
    from ..train.config import apply_overrides
    from .tasks import task

    results = []
    models = load_models(run_dir)
    if overrides:
        models = [dataclasses.replace(m, cfg=apply_overrides(copy.deepcopy(m.cfg), list(overrides))) for m in models]
    for m in models:
        spec = task(m.cfg.task)
        target = None
        if data is not None:
            target = copy.deepcopy(m.cfg.data)
            target.source, target.split, target.fold, target.ids = data, "test", None, None
            target.train_ids = target.val_ids = target.test_ids = None
        folder = out or Path(run_dir) / "evaluations" / (Path(data).stem if data else "own")
        if len(models) > 1:
            folder = folder / m.folder.name
        folder.mkdir(parents=True, exist_ok=True)
        results.append(spec.evaluate(m, target, folder, log))
    return results[0] if len(results) == 1 else {"folds": results}


# --- pieces the tasks' experiments share -----------------------------------------------------------------

def parameter_counts(model) -> dict[str, int]:
    """Trainable parameters: the whole model, its geometric encoder, its residue features (PLM fusion)."""
    from .encoders import parameter_count

    return {"total": parameter_count(model), "encoder": parameter_count(model.encoder.encoder),
            "plm_fusion": parameter_count(model.encoder.features)}


def write_split(run_dir: Path, ids: dict[str, list[str]]) -> None:
    """``split.json``: the complexes (targets) of each split of a run, as it used them."""
    (Path(run_dir) / "split.json").write_text(json.dumps({k: list(v) for k, v in ids.items()}, indent=1))


def describe(cfg, counts: dict, sizes: dict[str, int], unit: str = "complexes") -> str:
    return (f"{cfg.task}, {cfg.model.encoder} + PLM {cfg.data.plm}: parameters {counts['total']:,} (encoder "
            f"{counts['encoder']:,}, residue features {counts['plm_fusion']:,}); {unit} " +
            " / ".join(f"{k} {v}" for k, v in sizes.items()))


def loaders(train_set, val_set, cfg: TrainConfig, collate):
    """The training loader (a permutation per (seed, epoch): exact resume) and the validation loader."""
    from torch.utils.data import DataLoader

    from ..train.loop import EpochShuffle

    return (DataLoader(train_set, batch_size=cfg.batch_size, sampler=EpochShuffle(len(train_set), cfg.seed),
                       collate_fn=collate, num_workers=cfg.num_workers),
            DataLoader(val_set, batch_size=cfg.batch_size, collate_fn=collate, num_workers=cfg.num_workers))


def collect(model, items, task, collate, batch_size: int = 8) -> dict[str, np.ndarray]:
    """``task.predictions`` of ``model`` over ``items``, concatenated (no gradients, eval mode)."""
    import torch
    from torch.utils.data import DataLoader

    model.eval()
    device = next(model.parameters()).device
    parts = []
    with torch.no_grad():
        for batch in DataLoader(items, batch_size=batch_size, collate_fn=collate):
            batch = batch.to(device)
            parts.append(task.predictions(model(batch), batch))
    if not parts:
        raise InputError("nothing to evaluate: the split is empty")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def predict(run_dir: str | Path, inputs, out: Path, log: Callable = print) -> list[Path]:
    """Predictions of a finished run for new inputs (see the task's ``predict_help``)."""
    from .tasks import task

    models = load_models(run_dir)
    return task(models[0].cfg.task).predict(models, inputs, Path(out), log)
