"""One protein experiment from one typed config: data (with or without PLM features) -> model -> fit ->
evaluation, everything written into the run folder (config.yaml, checkpoints, logs, metrics JSON)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..train.config import TrainConfig, claim_run_dir, load_yaml
from ..train.loop import EpochShuffle, TaskModule, fit, write_metrics
from .db5 import DB5, PLMSource
from .encoders import ResidueEncoder, parameter_count
from .featurize import GraphConfig
from .tasks.interface import ComplexDataset, InterfaceModel, InterfaceTask, collate

PLM_ARMS = ("none", "default", "esm2_650m")


@dataclass
class DataConfig:
    form: str = "b"
    label: str = "heavy"
    plm: str = "none"  # none | default (our own PLM) | esm2_650m (shared real embeddings) | a store path
    plm_model: str = ""  # for a store path: the model id inside it
    plm_layers: str = ""
    train_ids: list[str] | None = None  # None: the EquiDock split
    val_ids: list[str] | None = None
    test_ids: list[str] | None = None
    cache_dir: str = "cache"


@dataclass
class ModelConfig:
    encoder: str = "gvp"
    fusion: str = "project"  # used when data.plm != none
    layers: int | None = None
    out_dim: int = 128
    dropout: float = 0.1


@dataclass
class InterfaceRun:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/auroc", mode="max"))


def plm_source(cfg: DataConfig, cache_dir: Path) -> PLMSource | None:
    """Resolve the PLM arm to a store, filling it on first use (idempotent)."""
    if cfg.plm == "none":
        return None
    from ..data import dataset_path
    from .plm.backends import load_plm
    from .plm.extract import LayerSpec
    from .plm.pipeline import JobReport, embed_to_store, import_to_store, sequences_from_structures
    from .plm.registry import DEFAULT_PLM, PAPER_PLM
    from .plm.store import EmbeddingStore

    store = cache_dir / "plm_store"
    if cfg.plm == "esm2_650m":
        files = sorted(dataset_path("esm2_650m_db5").glob("*.npz"))
        with EmbeddingStore(store) as s:
            if any(s.sequence_named(PAPER_PLM, "33", f.stem) is None for f in files):
                import_to_store(files, s, PAPER_PLM, "33")
        return PLMSource(store, PAPER_PLM, "33", min_coverage=0.6)
    if cfg.plm == "default":
        plm = load_plm(DEFAULT_PLM)
        layers = LayerSpec().key(plm.num_layers)
        files = sorted((dataset_path("db5") / "structures").glob(f"*_{cfg.form}.pdb*"))
        report = JobReport()
        named = sequences_from_structures(files, report)
        if report.failed:
            raise ValueError(f"unreadable DB5 structures: {report.failed[:3]}")
        with EmbeddingStore(store) as s:
            embed_to_store(plm, named, s, LayerSpec())
        return PLMSource(store, plm.id, layers)
    return PLMSource(Path(cfg.plm), cfg.plm_model, cfg.plm_layers)


def attach_plm_by_sequence(arm: str, source: PLMSource, graphs: list) -> None:
    """PLM features for graphs of arbitrary input files, looked up by chain sequence in the run's store. With
    our own PLM (``default``) the chains the store lacks are embedded first; other PLMs need ``intergraph plm
    embed`` beforehand (the :class:`AlignmentError` says so)."""
    from .plm.align import attach_from_store
    from .plm.store import EmbeddingStore

    if arm == "default":
        from .plm.backends import load_plm
        from .plm.extract import LayerSpec
        from .plm.pipeline import embed_to_store
        from .plm.registry import DEFAULT_PLM

        named = [(g.name, seq) for g in graphs for seq in g.chain_sequences]
        with EmbeddingStore(source.store) as store:
            embed_to_store(load_plm(DEFAULT_PLM), named, store, LayerSpec())
    with EmbeddingStore(source.store, readonly=True) as store:
        for g in graphs:
            attach_from_store(g, store, source.model, source.layers, min_identity=source.min_identity,
                              min_coverage=source.min_coverage)


def plm_dim(source: PLMSource | None) -> int | None:
    if source is None:
        return None
    from .plm.store import EmbeddingStore

    with EmbeddingStore(source.store, readonly=True) as s:
        dims = [x.dim for x in s.summary() if x.model == source.model and x.layers == source.layers]
    if not dims:
        raise ValueError(f"{source.store}: no embeddings of {source.model} layers {source.layers}")
    return dims[0]


def datasets(cfg: InterfaceRun, run_dir: Path):
    if cfg.data.form not in ("b", "u"):
        raise ValueError(f"form must be 'b' (bound) or 'u' (unbound), not {cfg.data.form!r}")
    cache = Path(cfg.data.cache_dir)
    source = plm_source(cfg.data, cache)
    full = DB5(form=cfg.data.form, config=GraphConfig(), cache_dir=cache, plm=source)
    ids = {"train": cfg.data.train_ids or full.splits["train"], "val": cfg.data.val_ids or full.splits["val"],
           "test": cfg.data.test_ids or full.splits["test"]}
    if source is not None:
        have = set(full.ids_with_embeddings())
        ids = {k: [i for i in v if i in have] for k, v in ids.items()}
    return {k: ComplexDataset([full[i] for i in v], cfg.data.label) for k, v in ids.items()}, source


def build_encoder(model: ModelConfig, dim: int | None) -> ResidueEncoder:
    """The residue encoder of a run; ``dim`` is the PLM width (None: no PLM)."""
    return ResidueEncoder(model.encoder, model.fusion if dim else "none", dim, out_dim=model.out_dim,
                          layers=model.layers, dropout=model.dropout)


def build_model(cfg: InterfaceRun, dim: int | None) -> InterfaceModel:
    return InterfaceModel(build_encoder(cfg.model, dim), dropout=cfg.model.dropout)


def loaders(data: dict, cfg: TrainConfig):
    train = DataLoader(data["train"], batch_size=cfg.batch_size, sampler=EpochShuffle(len(data["train"]), cfg.seed),
                       collate_fn=collate, num_workers=cfg.num_workers)
    val = DataLoader(data["val"], batch_size=cfg.batch_size, collate_fn=collate, num_workers=cfg.num_workers)
    return train, val


@torch.no_grad()
def evaluate_model(model: InterfaceModel, dataset: ComplexDataset, task: InterfaceTask, batch_size: int = 8) -> dict:
    model.eval()
    device = next(model.parameters()).device
    collected = []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate):
        batch = batch.to(device)
        collected.append(task.predictions(model(batch), batch))
    cat = {k: np.concatenate([c[k] for c in collected]) for k in collected[0]}
    return {**task.metrics(cat), "complexes": len(dataset), "residues": int(len(cat["label"]))}, cat


def load_best(model: torch.nn.Module, run_dir: Path) -> torch.nn.Module:
    """Weights of a run's best checkpoint (loaded without unpickling arbitrary objects)."""
    state = torch.load(Path(run_dir) / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})
    return model


def load_run(run_dir: str | Path):
    """(config, best model, data sets, task) of a finished run folder."""
    run_dir = Path(run_dir)
    cfg = load_yaml(InterfaceRun, run_dir / "config.yaml")
    data, source = datasets(cfg, run_dir)
    model = load_best(build_model(cfg, plm_dim(source)), run_dir)
    return cfg, model, data, InterfaceTask(cfg.data.label)


def train_interface(cfg: InterfaceRun, run_dir: str | Path, progress: bool = True, log=print) -> dict:
    """Train (or resume) one interface model; returns test metrics of the best checkpoint."""
    run_dir = claim_run_dir(cfg, run_dir)
    data, source = datasets(cfg, run_dir)
    dim = plm_dim(source)
    model = build_model(cfg, dim)
    counts = {"total": parameter_count(model), "encoder": parameter_count(model.encoder.encoder),
              "plm_fusion": parameter_count(model.encoder.features)}
    log(f"{cfg.model.encoder} + PLM {cfg.data.plm} ({model.encoder.features.fusion}): parameters {counts['total']:,} "
        f"(encoder {counts['encoder']:,}, residue features {counts['plm_fusion']:,}); complexes "
        f"train {len(data['train'])} / val {len(data['val'])} / test {len(data['test'])}")
    task = InterfaceTask(cfg.data.label, data["train"].positive_weight())
    module = TaskModule(model, task, cfg.train)
    train_loader, val_loader = loaders(data, cfg.train)
    trainer = fit(module, train_loader, val_loader, run_dir, progress)
    if trainer.global_rank != 0:
        return {}
    load_best(module.model, run_dir)
    results = {"parameters": counts, "epochs": trainer.current_epoch}
    for split in ("val", "test"):
        metrics, preds = evaluate_model(module.model, data[split], task)
        results[split] = metrics
        np.savez_compressed(run_dir / f"predictions_{split}.npz", **preds)
    write_metrics(run_dir, "metrics", results)
    return results
