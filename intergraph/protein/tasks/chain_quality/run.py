"""Single-chain model quality assessment (Atom3D PSR) as a registered task: residue graphs of every model of
``psr_casp13`` (or a folder in its layout), split by target (k-fold by default), GDT_TS regression with a
per-residue lDDT auxiliary target and a within-target ranking term; per-target Spearman as the primary metric;
the targets without a native as a held-out test set (``chain_quality.extra``); optionally each model's consensus
score as an input (``chain_quality.consensus``); a folder of new models ranked by ``protein predict --models DIR
[--native N]``."""
from __future__ import annotations

import copy
import csv
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Batch

from ....errors import InputError, MissingError
from ....train.config import TrainConfig
from ....train.experiment import Experiment
from ....train.loop import TaskModule
from ....train.ranking import TargetBatches
from ...featurize import GraphConfig, featurize
from ...io import is_structure_file, read_structure
from ...model_scores import lddt, pair_residues, score_model
from ...pairs import split_ids
from ...plm import arms
from ...run import DataConfig, ProteinRun, build_encoder, collect, describe, parameter_counts, write_split
from ...structure import Structure
from ..base import ItemGain, PredictInputs, TaskSpec, write_items, write_ranking
from .baselines import consensus
from .data import ChainModel, ModelSet, read_extra_sets, read_model_sets
from .model import ChainQualityModel, ChainQualityTask


@dataclass
class ChainQualityConfig:
    lddt_weight: float = 0.5   # auxiliary per-residue lDDT loss
    rank_weight: float = 1.0   # pairwise ranking loss within a target
    extra: bool = False        # also test every run on the source's targets without a native (never trained on)
    consensus: bool = False    # input: each model's mean TM-score to <= 10 other models of its target


@dataclass
class ChainQualityRun(ProteinRun):
    task: str = "chain_qa"
    data: DataConfig = field(default_factory=lambda: DataConfig(source="psr_casp13", split="kfold"))
    chain_quality: ChainQualityConfig = field(default_factory=ChainQualityConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/per_target_spearman", mode="max"))


def _collate(items) -> Batch:
    return Batch.from_data_list(items)


def model_graph(s: Structure, name: str, native=None):
    """Residue graph of one model; with the native, ``lddt`` (N,) per-residue Cα-lDDT and ``lddt_mask``."""
    g = featurize(s, GraphConfig(), name=name)
    n = g.num_nodes
    g.lddt, g.lddt_mask = torch.zeros(n), torch.zeros(n, dtype=torch.bool)
    if native is not None:
        p = pair_residues(s, native)
        per = lddt(p)[1][p.native_index]
        ok = np.isfinite(per)
        g.lddt[p.model_index[ok]] = torch.as_tensor(per[ok], dtype=torch.float32)
        g.lddt_mask[p.model_index[ok]] = True
    return g


def attach_consensus(graphs: list, values) -> None:
    """``consensus`` (1,) on each graph: the model's mean TM-score to at most 10 other models of the same set
    (the consensus baseline's score, :func:`baselines.consensus`, seed 0)."""
    for g, c in zip(graphs, values):
        g.consensus = torch.tensor([c], dtype=torch.float32)


@functools.lru_cache(maxsize=None)
def _set_consensus(paths: tuple[Path, ...]) -> tuple[float, ...]:
    """The consensus scores of one target's model files, once per process (every fold, seed and arm of a
    comparison shares them; about 12 ms per model pair)."""
    return tuple(consensus([read_structure(p) for p in paths]))


def _labelled(m: ChainModel, s: Structure, native) -> object:
    g = model_graph(s, f"{m.target}/{m.name}", native)
    g.y, g.target, g.model = torch.tensor([m.gdt_ts], dtype=torch.float32), m.target, m.name
    return g


def target_graphs(model_set: ModelSet, with_consensus: bool) -> list:
    """Labelled graphs of one target's models (with the consensus input if asked)."""
    native = read_structure(model_set.native) if model_set.native is not None else None
    structures = [read_structure(m.path) for m in model_set.models]
    graphs = [_labelled(m, s, native) for m, s in zip(model_set.models, structures)]
    if with_consensus:
        attach_consensus(graphs, _set_consensus(tuple(m.path for m in model_set.models)))
    return graphs


def target_items(cat: dict) -> list[dict]:
    """Per test target: models, Spearman ρ of predicted vs true GDT_TS (0 where undefined: the model ranks all
    alike), the true GDT_TS of the top-ranked model, the best GDT_TS and the loss."""
    from ....train.metrics import ranking_metrics

    r = ranking_metrics(cat["pred"], cat["gdt_ts"], cat["target"])
    rows = []
    for t, (rho, loss, n) in r["per_group"].items():
        best = float(cat["gdt_ts"][cat["target"] == t].max())
        rows.append({"item": t, "models": n, "spearman": rho if np.isfinite(rho) else 0.0,
                     "top1_gdt_ts": best - loss, "best_gdt_ts": best, "top1_loss": loss})
    return rows


class ChainQualitySpec(TaskSpec):
    name = "chain_qa"
    description = "quality of single-chain models (Atom3D PSR): predicted GDT_TS of each model, ranked per target"
    config = ChainQualityRun
    columns = {"per_target_spearman": False, "top1_loss": True, "spearman": False, "pearson": False}
    gain = ItemGain("per-target Spearman", ("spearman",))
    predict_help = "--models DIR [--native N] (single-chain models): ranking.csv"

    def build_model(self, cfg, plm_dim):
        return ChainQualityModel(build_encoder(cfg.model, plm_dim), dropout=cfg.model.dropout,
                                 consensus=cfg.chain_quality.consensus)

    def graphs(self, cfg, log) -> tuple[dict[str, list], dict[str, list[str]], arms.PLMSource | None]:
        """Graphs by target and the split of this run (whole targets on each side; with ``extra``, the targets
        without a native as split ``extra``)."""
        sets, skipped = read_model_sets(cfg.data.source)
        for name, why in skipped:
            log(f"skipped {name}: {why}")
        if cfg.data.ids is not None:
            sets = {t: s for t, s in sets.items() if t in set(cfg.data.ids)}
        if not sets:
            raise InputError(f"{cfg.data.source}: no model sets")
        d = cfg.data
        how = "kfold" if d.split == "auto" else d.split
        ids = split_ids(sorted(sets), how, {}, None, d.folds, d.fold, d.split_seed, d.val_fraction, d.test_fraction)
        if cfg.chain_quality.extra:
            extra, skipped = read_extra_sets(d.source)
            for name, why in skipped:
                log(f"skipped {name}: {why}")
            if set(extra) & set(sets):
                raise InputError(f"{d.source}: targets {sorted(set(extra) & set(sets))} are both labelled and extra")
            sets, ids = {**sets, **extra}, {**ids, "extra": sorted(extra)}
        by_target = {t: target_graphs(sets[t], cfg.chain_quality.consensus) for v in ids.values() for t in v}
        source = arms.resolve(d.plm, d.cache_dir, (), d.plm_model, d.plm_layers)
        if source is not None:
            arms.attach_by_sequence(d.plm, source, [g for gs in by_target.values() for g in gs])
        return by_target, ids, source

    def _score(self, model, by_target: dict, ids: dict, task: ChainQualityTask, out: Path) -> dict:
        results = {}
        for split in ("val", "test", "extra"):
            items = [g for t in ids.get(split, []) for g in by_target[t]]
            if not items:
                continue
            cat = collect(model, items, task, _collate)
            results[split] = {**task.metrics(cat), "targets": len(ids[split]), "models": len(items)}
            if split != "val":
                write_items(target_items(cat), out / ("items.csv" if split == "test" else f"items_{split}.csv"))
                with open(out / f"predictions_{split}.csv", "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["target", "model", "predicted_gdt_ts", "gdt_ts"])
                    w.writerows(zip(cat["target"], cat["model"], np.round(cat["pred"], 4), cat["gdt_ts"]))
        return results

    def experiment(self, cfg, run_dir: Path, log) -> Experiment:
        by_target, ids, source = self.graphs(cfg, log)
        write_split(run_dir, ids)
        model = self.build_model(cfg, self.plm_dim(cfg))
        counts = parameter_counts(model)
        task = ChainQualityTask(cfg.chain_quality.lddt_weight, cfg.chain_quality.rank_weight)
        train = [g for t in ids["train"] for g in by_target[t]]
        val = [g for t in ids["val"] for g in by_target[t]]
        bs = cfg.train.batch_size
        return Experiment(TaskModule(model, task, cfg.train),
                          DataLoader(train, batch_sampler=TargetBatches([g.target for g in train], bs, cfg.train.seed),
                                     collate_fn=_collate),
                          DataLoader(val, batch_size=bs, collate_fn=_collate),
                          lambda m: self._score(m, by_target, ids, task, run_dir), counts,
                          describe(cfg, counts, {k: f"{sum(len(by_target[t]) for t in v)} ({len(v)} targets)"
                                                 for k, v in ids.items()}, "models"))

    def evaluate(self, trained, data, out: Path, log) -> dict:
        cfg = copy.deepcopy(trained.cfg)
        if data is not None:
            cfg.data = data
        by_target, ids, _ = self.graphs(cfg, log)
        q = cfg.chain_quality
        return self._score(trained.model, by_target, ids, ChainQualityTask(q.lddt_weight, q.rank_weight), out)

    def predict(self, models: list, inputs: PredictInputs, out: Path, log) -> list[Path]:
        """Predicted GDT_TS of every model in ``inputs.models`` (mean over the run's models), ranked; with a
        native, the true GDT_TS, TM-score and lDDT beside it. Unreadable files are skipped and listed."""
        if inputs.models is None:
            raise InputError("single-chain quality predictions need --models DIR (and optionally --native N)")
        if not inputs.models.is_dir():
            raise MissingError(f"{inputs.models}: not a folder of models")
        cfg = models[0].cfg
        native = read_structure(inputs.native) if inputs.native is not None else None
        graphs, structures, skipped = [], [], []
        for f in sorted(p for p in inputs.models.iterdir() if is_structure_file(p)):
            try:
                s = read_structure(f)
                graphs.append((f, model_graph(s, f.name)))
                structures.append(s)
            except InputError as e:
                skipped.append((f.name, str(e)))
        for name, why in skipped:
            log(f"skipped {name}: {why}")
        if not graphs:
            raise InputError(f"{inputs.models}: no model could be read")
        if cfg.chain_quality.consensus:
            if len(graphs) < 2:
                raise InputError(f"{inputs.models}: the run takes each model's consensus with the other models of "
                                 "its target as an input; give a folder with at least 2 models of one target")
            attach_consensus([g for _, g in graphs], consensus(structures))
        source = arms.resolve(cfg.data.plm, cfg.data.cache_dir, (), cfg.data.plm_model, cfg.data.plm_layers)
        if source is not None:
            arms.attach_by_sequence(cfg.data.plm, source, [g for _, g in graphs])
        rows = []
        for (f, g), structure in zip(graphs, structures):
            with torch.no_grad():
                pred = float(np.mean([torch.sigmoid(m.model(_collate([g]))[0])[0].item() for m in models]))
            row = {"model": f.name, "predicted_gdt_ts": pred}
            if native is not None:
                s = score_model(structure, native)
                row.update({k: s[k] for k in ("gdt_ts", "tm_score", "lddt")})
            rows.append(row)
        path = write_ranking(rows, "predicted_gdt_ts", out)
        log(f"{len(rows)} models ranked -> {path}")
        return [path]

    def pool(self, cfg, log=print) -> list[str]:
        return sorted(read_model_sets(cfg.data.source)[0])

    def notes(self, rows: list[dict]) -> list[str]:
        """The reference-free baselines on the runs' test targets (those of the first seed's split); with
        ``extra``, the held-out targets' table with the same baselines."""
        import json

        from ....train.metrics import ranking_metrics
        from ...run import read_config
        from .baselines import baseline_scores, baseline_table
        from .heldout import heldout_lines

        runs = [Path(r["run"]) for r in rows if r["seed"] == rows[0]["seed"]]
        cfg = read_config(runs[0] / "config.yaml")
        sets, _ = read_model_sets(cfg.data.source)
        splits = [json.loads(p.read_text()) for run in runs for p in sorted(run.glob("**/split.json"))]
        tested = sorted({t for s in splits for t in s.get("test", [])} & set(sets))
        lines = []
        if tested:
            scores = {t: baseline_scores(sets[t]) for t in tested}
            lines += ["Reference-free baselines on the same test targets (95 % bootstrap intervals over targets):",
                      "", *baseline_table({t: sets[t] for t in tested}, scores)]
        if cfg.chain_quality.extra:
            extra, _ = read_extra_sets(cfg.data.source)
            baselines = {}
            for t, model_set in sorted(extra.items()):
                truth = np.array([m.gdt_ts for m in model_set.models])
                for name, score in baseline_scores(model_set).items():
                    rho, loss, _ = ranking_metrics(score, truth, np.array([t] * len(truth)))["per_group"][t]
                    baselines.setdefault(name.split(" (")[0], {})[t] = (rho, loss)
            lines += ["", "Held-out targets without a native (official labels; never trained or selected on): "
                      "per-target Spearman of each seed's fold ensemble (mean prediction of its fold models), "
                      "mean ± sd over seeds; the baselines below the arms:", "", *heldout_lines(rows, baselines)]
        return lines
