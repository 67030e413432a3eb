"""Quality-assessment experiments: decoy sets from DB5.5 (split by complex, never by decoy), training, and
evaluation on the DB5 test targets (perturbations, EquiDock's six baselines, optionally our docking model's
predictions) and on the external HADDOCK decoys of ``qa_decoys`` (targets held out of training)."""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data import dataset_path
from ..train.config import TrainConfig, claim_run_dir, load_yaml
from ..train.loop import EpochShuffle, TaskModule, fit, write_metrics
from .db5 import DB5
from .decoys import (Decoy, external_decoys, folder_decoys, perturbation_decoys, read_decoys, surface_decoys,
                     write_decoys)
from .encoders import parameter_count
from .experiment import (DataConfig, ModelConfig, attach_plm_by_sequence, build_encoder, load_best, plm_dim,
                         plm_source)
from .featurize import GraphConfig, featurize
from .tasks.quality import DecoyGraphs, QualityModel, QualityTask, collate_graphs, decoy_graph

#: qa_decoys targets and their (receptor, ligand) chains, from the data README
EXTERNAL = {"1ATN": (["A"], ["B"]), "1AK4": (["C"], ["D"])}
BASELINES = ("equidock", "equidock_no_clashes", "hdock", "attract", "cluspro", "patchdock")


@dataclass
class QualityConfig:
    decoys_per_target: int = 6        # rigid perturbations per training / validation target
    surface_per_target: int = 4       # random surface-contact poses per training / validation target
    clash_per_target: int = 2         # random interpenetrating poses (2-8 Å past contact) per train / val target
    test_decoys_per_target: int = 10  # per test target, besides the baselines
    baselines: bool = True            # EquiDock's six baselines of the test targets join the test set
    docking_run: str = ""             # a docking run whose test predictions join the test set
    external: bool = True             # qa_decoys targets: held out of training, evaluated apart
    contact_radius: float = 12.0
    decoy_seed: int = 0


@dataclass
class QualityRun:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/spearman", mode="max"))


def build_quality_model(cfg: QualityRun, dim: int | None) -> QualityModel:
    return QualityModel(build_encoder(cfg.model, dim), dropout=cfg.model.dropout)


def _targets(cfg: QualityRun, db5: DB5) -> dict[str, list[str]]:
    ids = {"train": cfg.data.train_ids or db5.splits["train"], "val": cfg.data.val_ids or db5.splits["val"],
           "test": cfg.data.test_ids or db5.splits["test"]}
    if cfg.quality.external:
        ids = {k: [i for i in v if i not in EXTERNAL] for k, v in ids.items()}
    if db5.plm is not None:
        have = set(db5.ids_with_embeddings())
        ids = {k: [i for i in v if i in have] for k, v in ids.items()}
    return ids


def decoy_sets(cfg: QualityRun, db5: DB5, ids: dict[str, list[str]], cache: Path, log=print) -> dict[str, list[Decoy]]:
    """Labelled decoys per split, cached by content (targets, counts, seed, sources); a rerun reuses them."""
    q = cfg.quality
    out = {}
    for split, targets in ids.items():
        n = q.test_decoys_per_target if split == "test" else q.decoys_per_target
        # the test set keeps its composition: perturbations and the methods' decoys
        n_surface, n_clash = (0, 0) if split == "test" else (q.surface_per_target, q.clash_per_target)
        extra = split == "test" and (q.baselines or q.docking_run)
        wrong_site = [n_surface, n_clash, "v3"] if n_surface or n_clash else []
        key = hashlib.sha256(json.dumps([targets, n, q.decoy_seed, extra and q.baselines, q.docking_run,
                                         "v2"] + wrong_site).encode()).hexdigest()[:16]
        path = cache / "qa" / f"{split}-{key}.csv"
        if path.exists():
            out[split] = read_decoys(path)
            continue
        structures = {c: (db5.structure(c, "r", "b"), db5.structure(c, "l", "b")) for c in targets}
        decoys = []
        for k, (cid, (rec, lig)) in enumerate(structures.items()):
            decoys += perturbation_decoys(cid, rec, lig, n, seed=q.decoy_seed)
            decoys += surface_decoys(cid, rec, lig, n_surface, seed=q.decoy_seed)
            decoys += surface_decoys(cid, rec, lig, n_clash, seed=q.decoy_seed, depth=(2.0, 8.0),
                                     source="interpenetrating")
            if (k + 1) % 25 == 0:
                log(f"{split}: decoys of {k + 1}/{len(targets)} targets")
        skipped: list[tuple[str, str]] = []
        if extra:
            recs = {c: s[0] for c, s in structures.items()}
            ligs = {c: s[1] for c, s in structures.items()}
            folders = [(dataset_path("db5") / "docking_test" / "baselines" / m, m) for m in BASELINES if q.baselines]
            if q.docking_run:
                folders.append((Path(q.docking_run) / "test_predictions", "intergraph"))
            for folder, source in folders:
                decoys += folder_decoys(folder, source, recs, ligs, skipped)
        if q.docking_run and split != "test":
            decoys += docked_decoys(Path(q.docking_run), structures)
        for name, why in skipped:
            log(f"skipped decoy {name}: {why}")
        write_decoys(decoys, path)
        out[split] = decoys
    return out


def docked_decoys(run: Path, structures: dict) -> list[Decoy]:
    """One decoy per training/validation target: the docking run's prediction for its bound partners (the model
    does not depend on the input poses, so the bound files serve as inputs), labelled against the native."""
    from .decoys import labelled
    from .dock import load_docking_run
    from .tasks.docking import docked_pose

    _, model, db5 = load_docking_run(run)
    out = []
    for cid, (rec, lig) in structures.items():
        item = db5[cid]
        rot, trans = docked_pose(model, item.receptor, item.ligand, cid)
        out.append(labelled(cid, f"{cid}_intergraph", "intergraph", rot, trans, rec, lig))
    return out


def _evaluate(model, loader, task) -> tuple[dict, dict]:
    model.eval()
    with torch.no_grad():
        collected = [task.predictions(model(b), b) for b in loader]
    cat = {k: np.concatenate([c[k] for c in collected]) for k in collected[0]}
    return task.metrics(cat), cat


def _by_source(cat: dict, decoys: list[Decoy], task: QualityTask) -> dict[str, dict]:
    source = {d.decoy: d.source for d in decoys}
    kinds = np.array(["perturbation" if source[d] == "perturbation" else "docking methods" for d in cat["decoy"]])
    out = {}
    for kind in np.unique(kinds):
        m = kinds == kind
        out[kind] = {**task.metrics({k: v[m] for k, v in cat.items()}), "decoys": int(m.sum())}
    return out


def _write_predictions(cat: dict, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["target", "decoy", "dockq", "pred_dockq", "fnat", "pred_fnat"])
        for i in range(len(cat["decoy"])):
            w.writerow([cat["target"][i], cat["decoy"][i], f"{cat['dockq'][i]:.4f}", f"{cat['pred_dockq'][i]:.4f}",
                        f"{cat['fnat'][i]:.4f}", f"{cat['pred_fnat'][i]:.4f}"])


def external_graphs(cfg: QualityRun, db5: DB5, log=print) -> list:
    """Complex graphs of the qa_decoys HADDOCK models (PLM features by chain sequence when the run uses a
    PLM; targets whose chains have none are skipped with a message)."""
    from .plm.align import AlignmentError

    root = dataset_path("qa_decoys")
    graphs = []
    for target, (rc, lc) in EXTERNAL.items():
        for d in external_decoys(root, target, rc, lc):
            parts = [featurize(s, GraphConfig(), name=f"{d.decoy}_{role}") for role, s in (("r", d.receptor), ("l", d.ligand))]
            if db5.plm is not None:
                try:
                    attach_plm_by_sequence(cfg.data.plm, db5.plm, parts)
                except AlignmentError as e:
                    log(f"external target {target} skipped: {e}")
                    break
            g = decoy_graph(*parts, contact_radius=cfg.quality.contact_radius)
            g.y = torch.tensor([[d.labels["dockq"], d.labels["fnat"]]], dtype=torch.float32)
            g.target, g.decoy = target, d.decoy
            graphs.append(g)
    return graphs


def train_quality(cfg: QualityRun, run_dir: str | Path, progress: bool = True, log=print) -> dict:
    """Train (or resume) a quality-assessment model; returns val/test/external metrics of the best checkpoint."""
    run_dir = claim_run_dir(cfg, run_dir)
    cache = Path(cfg.data.cache_dir)
    source = plm_source(cfg.data, cache)
    db5 = DB5(form="b", config=GraphConfig(), cache_dir=cache, plm=source)
    ids = _targets(cfg, db5)
    decoys = decoy_sets(cfg, db5, ids, cache, log)
    partners = {c: db5[c] for split in ids.values() for c in split}
    data = {k: DecoyGraphs(v, partners, cfg.quality.contact_radius) for k, v in decoys.items()}
    model = build_quality_model(cfg, plm_dim(source))
    counts = {"total": parameter_count(model), "encoder": parameter_count(model.encoder.encoder),
              "plm_fusion": parameter_count(model.encoder.features)}
    log(f"quality assessment, {cfg.model.encoder} + PLM {cfg.data.plm}: parameters {counts['total']:,}; decoys " +
        " / ".join(f"{k} {len(v)} ({len(ids[k])} targets)" for k, v in decoys.items()))
    sampler = EpochShuffle(len(data["train"]), cfg.train.seed)
    bs = cfg.train.batch_size
    train = DataLoader(data["train"], batch_size=bs, sampler=sampler, collate_fn=collate_graphs)
    val = DataLoader(data["val"], batch_size=bs, collate_fn=collate_graphs)
    task = QualityTask()
    module = TaskModule(model, task, cfg.train)
    trainer = fit(module, train, val, run_dir, progress)
    if trainer.global_rank != 0:
        return {}
    results = {"parameters": counts, "epochs": trainer.current_epoch}
    results.update(evaluate_quality(cfg, load_best(module.model, run_dir).cpu(), db5, decoys, partners, run_dir, log))
    write_metrics(run_dir, "metrics", results)
    return results


def evaluate_quality(cfg: QualityRun, model: QualityModel, db5: DB5, decoys: dict, partners: dict, run_dir: Path,
                     log=print) -> dict:
    """Validation, test (overall and by decoy source) and external metrics; per-decoy predictions as CSV."""
    task, bs = QualityTask(), cfg.train.batch_size

    def loader(items):
        return DataLoader(items, batch_size=bs, collate_fn=collate_graphs)

    results = {}
    results["val"], _ = _evaluate(model, loader(DecoyGraphs(decoys["val"], partners, cfg.quality.contact_radius)), task)
    results["test"], cat = _evaluate(model, loader(DecoyGraphs(decoys["test"], partners, cfg.quality.contact_radius)), task)
    results["test_by_source"] = _by_source(cat, decoys["test"], task)
    _write_predictions(cat, run_dir / "predictions_test.csv")
    if cfg.quality.external:
        graphs = external_graphs(cfg, db5, log)
        if graphs:
            results["external"], cat = _evaluate(model, loader(graphs), task)
            _write_predictions(cat, run_dir / "predictions_external.csv")
    return results


def load_quality_run(run_dir: str | Path, log=print) -> dict:
    """Re-evaluate a finished run's best checkpoint (decoy sets come from the cache, or are rebuilt)."""
    run_dir = Path(run_dir)
    cfg = load_yaml(QualityRun, run_dir / "config.yaml")
    cache = Path(cfg.data.cache_dir)
    source = plm_source(cfg.data, cache)
    db5 = DB5(form="b", config=GraphConfig(), cache_dir=cache, plm=source)
    ids = _targets(cfg, db5)
    decoys = decoy_sets(cfg, db5, ids, cache, log)
    partners = {c: db5[c] for c in ids["val"] + ids["test"]}
    model = load_best(build_quality_model(cfg, plm_dim(source)), run_dir)
    return evaluate_quality(cfg, model, db5, {k: decoys[k] for k in ("val", "test")}, partners, run_dir, log)
