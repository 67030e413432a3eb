"""Docking experiments: train the keypoint docking model on DB5.5 bound complexes, evaluate it on EquiDock's
test protocol (``docking_test/random_transformed`` inputs scored against ``docking_test/complexes`` exactly
as the shipped baselines are), and dock any two structure files with a trained run."""
from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data import dataset_path
from ..train.config import TrainConfig, claim_run_dir, load_yaml
from ..train.loop import EpochShuffle, TaskModule, fit, write_metrics
from .db5 import DB5
from .docking_metrics import score_folder, structure_file, summarize
from .encoders import parameter_count
from .experiment import (DataConfig, ModelConfig, attach_plm_by_sequence, build_encoder, load_best, plm_dim,
                         plm_source)
from .featurize import GraphConfig, featurize
from .io import read_structure, structure_to_pdb
from .structure import Structure
from .tasks.docking import DockingModel, DockingPairs, DockingTask, docked_pose
from .tasks.interface import collate


@dataclass
class DockingConfig:
    keypoints: int = 8
    ot_weight: float = 1.0      # keypoint / binding-pocket optimal-transport loss
    clash_weight: float = 0.0   # intersection loss (EquiDock's "no clashes" variant uses it)
    pocket_cutoff: float = 8.0  # Å between Cα of the two partners
    spread: float = 30.0        # Å, standard deviation of the random translations of the inputs


@dataclass
class DockingRun:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    docking: DockingConfig = field(default_factory=DockingConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/crmsd_median", mode="min"))


def build_docking_model(cfg: DockingRun, dim: int | None) -> DockingModel:
    return DockingModel(build_encoder(cfg.model, dim), keypoints=cfg.docking.keypoints, dropout=cfg.model.dropout)


def _db5(cfg: DockingRun):
    if cfg.data.form != "b":
        raise ValueError("docking trains on bound structures (form 'b'): the bound complex is the ground truth")
    cache = Path(cfg.data.cache_dir)
    source = plm_source(cfg.data, cache)
    return DB5(form="b", config=GraphConfig(), cache_dir=cache, plm=source), source


def split_ids(cfg: DockingRun, db5: DB5) -> dict[str, list[str]]:
    """Complex ids per split (the EquiDock split unless the config names them), keeping only complexes
    whose partners have PLM features when the run uses a PLM."""
    ids = {"train": cfg.data.train_ids or db5.splits["train"], "val": cfg.data.val_ids or db5.splits["val"],
           "test": cfg.data.test_ids or db5.splits["test"]}
    if db5.plm is not None:
        have = set(db5.ids_with_embeddings())
        ids = {k: [i for i in v if i in have] for k, v in ids.items()}
    return ids


def protocol_root() -> Path:
    return dataset_path("db5") / "docking_test"


def complex_pdb(receptor: Structure, ligand: Structure) -> str:
    """Receptor, then ligand, as one PDB text (the caller makes chain ids distinct)."""
    return structure_to_pdb(receptor).removesuffix("END\n") + "TER\n" + structure_to_pdb(ligand)


def evaluate_protocol(model: DockingModel, db5: DB5, ids: list[str], out_dir: Path, log=print) -> dict:
    """Dock each test complex from EquiDock's randomly moved inputs, write ``{ID}_{l,r}_b_INTERGRAPH.pdb``
    (receptor unchanged) into ``out_dir``, and score them like the baselines (CRMSD, IRMSD, fnat, DockQ)."""
    root = protocol_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    for cid in ids:
        s = {role: read_structure(structure_file(root / "random_transformed", f"{cid}_{role}_b")) for role in "rl"}
        graphs = {role: featurize(s[role], db5.config, name=f"{cid}_{role}") for role in "rl"}
        if db5.plm is not None:
            for role in "rl":
                db5.attach_plm(cid, role, graphs[role])
        rot, trans = docked_pose(model, graphs["r"], graphs["l"], cid)
        (out_dir / f"{cid}_r_b_INTERGRAPH.pdb").write_text(structure_to_pdb(s["r"]))
        (out_dir / f"{cid}_l_b_INTERGRAPH.pdb").write_text(structure_to_pdb(s["l"].moved(rot, trans)))
    wanted = {f"{cid}_l_b_INTERGRAPH.pdb" for cid in ids}
    rows, skipped = score_folder(out_dir, root / "complexes")
    rows = [r for r in rows if f"{r['complex']}_l_b_INTERGRAPH.pdb" in wanted]
    if skipped:
        raise ValueError(f"could not score {skipped}")
    with open(out_dir.parent / "test_scores.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return {m: summarize(r[m] for r in rows) for m in ("crmsd", "irmsd", "fnat", "dockq")}


def train_docking(cfg: DockingRun, run_dir: str | Path, progress: bool = True, log=print) -> dict:
    """Train (or resume) a docking model; returns validation and EquiDock-protocol test summaries."""
    run_dir = claim_run_dir(cfg, run_dir)
    db5, source = _db5(cfg)
    ids = split_ids(cfg, db5)
    model = build_docking_model(cfg, plm_dim(source))
    counts = {"total": parameter_count(model), "encoder": parameter_count(model.encoder.encoder),
              "plm_fusion": parameter_count(model.encoder.features)}
    log(f"docking, {cfg.model.encoder} + PLM {cfg.data.plm}: parameters {counts['total']:,}; complexes "
        f"train {len(ids['train'])} / val {len(ids['val'])} / test {len(ids['test'])}")
    sampler = EpochShuffle(len(ids["train"]), cfg.train.seed)
    train = DockingPairs([db5[i] for i in ids["train"]], cfg.train.seed, lambda: sampler.epoch, cfg.docking.spread)
    val = DockingPairs([db5[i] for i in ids["val"]], 10_000 + cfg.train.seed, None, cfg.docking.spread)
    loaders = (DataLoader(train, batch_size=cfg.train.batch_size, sampler=sampler, collate_fn=collate),
               DataLoader(val, batch_size=cfg.train.batch_size, collate_fn=collate))
    task = DockingTask(cfg.docking.ot_weight, cfg.docking.clash_weight, cfg.docking.pocket_cutoff)
    module = TaskModule(model, task, cfg.train)
    trainer = fit(module, *loaders, run_dir, progress)
    if trainer.global_rank != 0:
        return {}
    load_best(module.model, run_dir)
    module.model.cpu()
    results = {"parameters": counts, "epochs": trainer.current_epoch}
    with torch.no_grad():
        collected = [task.predictions(module.model.eval()(b), b) for b in loaders[1]]
        results["val"] = task.metrics({k: np.concatenate([c[k] for c in collected]) for k in collected[0]})
        results["test"] = evaluate_protocol(module.model, db5, ids["test"], run_dir / "test_predictions", log)
    write_metrics(run_dir, "metrics", results)
    return results


def load_docking_run(run_dir: str | Path) -> tuple[DockingRun, DockingModel, DB5]:
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists() or not (run_dir / "checkpoints" / "best.ckpt").exists():
        raise FileNotFoundError(f"{run_dir}: not a finished docking run (needs config.yaml and checkpoints/best.ckpt)")
    cfg = load_yaml(DockingRun, run_dir / "config.yaml")
    db5, source = _db5(cfg)
    return cfg, load_best(build_docking_model(cfg, plm_dim(source)), run_dir).eval(), db5


def _free_chain_ids(taken: set[str], n: int) -> list[str]:
    pool = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" if c not in taken]
    if len(pool) < n:
        raise ValueError(f"no {n} free one-letter chain ids left")
    return pool[:n]


def dock_files(run_dir: str | Path, receptor: str | Path, ligand: str | Path, out: str | Path,
               rename_chains: bool = False) -> dict:
    """Dock ``ligand`` onto ``receptor`` with a trained run; write the complex (receptor unchanged) to ``out``.

    Partners sharing chain ids are refused unless ``rename_chains``: then the ligand's clashing chains get the
    first free letters (the mapping is returned and reported), nothing else changes."""
    cfg, model, db5 = load_docking_run(run_dir)
    s = {"r": read_structure(receptor), "l": read_structure(ligand)}
    shared = sorted({c.id for c in s["r"].chains()} & {c.id for c in s["l"].chains()})
    renamed = {}
    if shared:
        if not rename_chains:
            raise ValueError(f"{receptor} and {ligand} share chain ids {', '.join(shared)}: the docked complex "
                             f"would be ambiguous; pass --rename-chains to give the ligand's chains free ids")
        taken = {str(c) for c in np.unique(np.concatenate([s["r"].res_chain, s["l"].res_chain]))}
        renamed = dict(zip(shared, _free_chain_ids(taken, len(shared))))
    graphs = {role: featurize(s[role], db5.config, name=str(path)) for role, path in (("r", receptor), ("l", ligand))}
    if db5.plm is not None:
        attach_plm_by_sequence(cfg.data.plm, db5.plm, list(graphs.values()))
    rot, trans = docked_pose(model, graphs["r"], graphs["l"])
    docked = s["l"].moved(rot, trans)
    if renamed:
        docked = dataclasses.replace(docked, res_chain=np.array([renamed.get(str(c), str(c)) for c in docked.res_chain]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(complex_pdb(s["r"], docked))
    return {"rotation": rot.tolist(), "translation": trans.tolist(), "renamed_ligand_chains": renamed}
