"""Binding affinity as a registered task: pocket + ligand atom graphs from ``lba_toy``, a folder in its layout or
Atom3D LBA LMDBs; k-fold cross-validation by default (a source with its own train/val/test splits uses them);
the pK of a new complex, averaged over a k-fold run's models."""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Batch

from ....errors import InputError
from ....train.config import TrainConfig
from ....train.experiment import Experiment
from ....train.loop import TaskModule
from ...io import read_structure
from ...pairs import split_ids
from ...run import DataConfig, ModelConfig, ProteinRun, describe, loaders, parameter_counts, write_split
from ..base import ItemGain, PredictInputs, TaskSpec, write_items
from .data import AffinityComplex, graphs_of, label_notes, load_complexes, pocket_groups
from .ligand import read_ligand
from .model import AffinityModel, AffinityTask, affinity_encoder


@dataclass
class AffinityConfig:
    radius: float = 5.0              # Å, atom graph edges
    plm_sequence: str = "segments"   # what the PLM embeds: each contiguous pocket segment, or the whole chain


@dataclass
class AffinityRun(ProteinRun):
    task: str = "affinity"
    data: DataConfig = field(default_factory=lambda: DataConfig(source="lba_toy", split="kfold"))
    model: ModelConfig = field(default_factory=lambda: ModelConfig(out_dim=64))
    affinity: AffinityConfig = field(default_factory=AffinityConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/rmse", mode="min"))


def _collate(items):
    return Batch.from_data_list(items)


def _predict(model, graphs, task) -> dict[str, np.ndarray]:
    model.eval()
    with torch.no_grad():
        parts = [task.predictions(model(b), b) for b in DataLoader(graphs, batch_size=16, collate_fn=_collate)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class AffinitySpec(TaskSpec):
    name = "affinity"
    description = "binding affinity (pK) of a protein pocket and a small-molecule ligand"
    config = AffinityRun
    columns = {"pearson": False, "spearman": False, "rmse": True}
    gain = ItemGain("Pearson r over complexes", ("pred", "pk"), statistic="pearson")
    predict_help = "--pocket P --ligand L.sdf|mol2 [--protein FULL.pdb]: predicted pK (affinity.csv)"

    def build_model(self, cfg, plm_dim):
        m = cfg.model
        encoder = affinity_encoder(m.encoder, m.fusion, plm_dim, out_dim=m.out_dim, layers=m.layers, dropout=m.dropout)
        return AffinityModel(encoder, dropout=m.dropout)

    def graphs(self, cfg, log) -> tuple[dict[str, list], dict[str, list[str]]]:
        """Atom graphs by id and the split of this run (random / k-fold splits keep pockets of the same protein
        on one side); unreadable complexes are listed."""
        complexes, given, skipped = load_complexes(cfg.data.source)
        for cid, why in skipped:
            log(f"skipped {cid}: {why}")
        if not complexes:
            raise InputError(f"{cfg.data.source}: no readable complexes ({len(skipped)} skipped)")
        if cfg.data.ids is not None:
            complexes = [c for c in complexes if c.id in set(cfg.data.ids)]
        notes = label_notes(complexes)
        if notes:
            log(f"{cfg.data.source}: {notes}")
        d = cfg.data
        how = ("given" if given else "kfold") if d.split == "auto" else d.split
        groups = pocket_groups(complexes)
        ids = split_ids([c.id for c in complexes], how, given, groups, d.folds, d.fold, d.split_seed,
                        d.val_fraction, d.test_fraction)
        used = [c for c in complexes if c.id in {i for v in ids.values() for i in v}]
        graphs = dict(zip([c.id for c in used], graphs_of(used, d.plm, d.cache_dir, cfg.affinity.radius,
                                                          cfg.affinity.plm_sequence, d.plm_model, d.plm_layers)))
        return graphs, ids

    def _score(self, model, graphs, ids, task: AffinityTask, out: Path) -> dict:
        results = {"standardisation": {"mean": task.mean, "std": task.std}}
        for split in ("val", "test"):
            if ids.get(split):
                pred = _predict(model, [graphs[i] for i in ids[split]], task)
                results[split] = {**task.metrics(pred), "complexes": len(ids[split])}
                np.savez(out / f"predictions_{split}.npz", **pred)
                if split == "test":
                    write_items([{"item": str(i), "pred": float(p), "pk": float(y)}
                                 for i, p, y in zip(pred["id"], pred["pred"], pred["pk"])], out / "items.csv")
        return results

    def experiment(self, cfg, run_dir: Path, log) -> Experiment:
        graphs, ids = self.graphs(cfg, log)
        write_split(run_dir, ids)
        y = np.array([float(graphs[i].y) for i in ids["train"]])
        task = AffinityTask(float(y.mean()), float(y.std()) or 1.0)
        first = graphs[ids["train"][0]]
        model = self.build_model(cfg, first.plm.shape[1] if "plm" in first else None)
        counts = parameter_counts(model)
        train, val = loaders([graphs[i] for i in ids["train"]], [graphs[i] for i in ids["val"]], cfg.train, _collate)
        return Experiment(TaskModule(model, task, cfg.train), train, val,
                          lambda m: self._score(m, graphs, ids, task, run_dir), counts,
                          describe(cfg, counts, {k: len(v) for k, v in ids.items()}))

    def _task_of(self, folder: Path) -> AffinityTask:
        stats = json.loads((folder / "metrics.json").read_text())["standardisation"]
        return AffinityTask(stats["mean"], stats["std"])

    def evaluate(self, trained, data, out: Path, log) -> dict:
        cfg = copy.deepcopy(trained.cfg)
        if data is not None:
            cfg.data = data
        graphs, ids = self.graphs(cfg, log)
        return self._score(trained.model, graphs, ids, self._task_of(trained.folder), out)

    def predict(self, models: list, inputs: PredictInputs, out: Path, log) -> list[Path]:
        if inputs.pocket is None or inputs.ligand is None:
            raise InputError("affinity predictions need --pocket and --ligand (and --protein for whole-chain PLM runs)")
        cfg = models[0].cfg
        if cfg.data.plm != "none" and cfg.affinity.plm_sequence == "chain" and inputs.protein is None:
            raise InputError("this model uses PLM features of the whole protein chains: pass --protein")
        c = AffinityComplex("input", read_structure(inputs.pocket), read_ligand(inputs.ligand), float("nan"),
                            read_structure(inputs.protein) if inputs.protein else None)
        graph = graphs_of([c], cfg.data.plm, cfg.data.cache_dir, cfg.affinity.radius, cfg.affinity.plm_sequence,
                          cfg.data.plm_model, cfg.data.plm_layers)[0]
        per_model = [float(_predict(m.model, [graph], self._task_of(m.folder))["pred"][0]) for m in models]
        out.mkdir(parents=True, exist_ok=True)
        path = out / "affinity.csv"
        path.write_text("pocket,ligand,predicted_pK,models,per_model\n" +
                        f"{inputs.pocket},{inputs.ligand},{np.mean(per_model):.3f},{len(per_model)},"
                        f"{' '.join(f'{p:.3f}' for p in per_model)}\n")
        log(f"predicted pK {np.mean(per_model):.2f} (models: {', '.join(f'{p:.2f}' for p in per_model)}) -> {path}")
        return [path]

    def pool(self, cfg, log=print) -> list[str]:
        complexes, _, _ = load_complexes(cfg.data.source)
        return [c.id for c in complexes]

    def figure(self, rows: list[dict], path: Path) -> Path:
        return plot_scatter(rows, path)

    def notes(self, rows: list[dict]) -> list[str]:
        return baseline_lines(rows)


def baseline_lines(rows: list[dict]) -> list[str]:
    """The baselines (see :mod:`.baselines`) on each run's own split (its ``split.json``; the same for every arm of
    a seed), as Pearson r [95 % bootstrap interval over the test complexes], Spearman and RMSE, test folds pooled,
    mean over seeds; with the CASF-2016 core set as the test set, AutoDock Vina's published Pearson r."""
    from scipy import stats

    from ....errors import MissingError
    from ....train.compare import bootstrap_gain, fmt
    from ...run import read_config
    from .baselines import VINA_CASF2016_PEARSON, baseline_predictions, rfscore_table

    cfg = read_config(Path(rows[0]["run"]) / "config.yaml")
    complexes, given, _ = load_complexes(cfg.data.source)
    by_id = {c.id: c for c in complexes}
    heavy = {c.id: c.ligand.GetNumAtoms() for c in complexes}
    try:
        table = rfscore_table()
    except MissingError:
        table = ({}, {}, {})
    per: dict[str, dict[int, dict[str, tuple[float, float]]]] = {}
    trained_on: dict[str, str] = {}
    done = set()
    for r in rows:
        if (r["seed"], r["fold"]) in done or not (Path(r["run"]) / "split.json").exists():
            continue
        done.add((r["seed"], r["fold"]))
        split = json.loads((Path(r["run"]) / "split.json").read_text())
        train = {i: by_id[i].pk for i in split["train"] + split["val"]}
        for name, b in baseline_predictions(train, split["test"], heavy, int(r["seed"]), table).items():
            per.setdefault(name, {}).setdefault(int(r["seed"]), {}).update(
                {i: (p, by_id[i].pk) for i, p in b["pred"].items()})
            trained_on[name] = b["trained on"]
    if not per:
        return []
    lines = ["Baselines on the same splits (trained on each run's training and validation complexes; test folds "
             "pooled, mean over seeds; 95 % bootstrap interval over the test complexes):", "",
             "| baseline | trained on | test complexes | Pearson r [95 % CI] | Spearman | RMSE |",
             "|---|---|---|---|---|---|"]
    for name, by_seed in per.items():
        b = bootstrap_gain(by_seed, None, "pearson")
        rho = np.mean([stats.spearmanr(*zip(*v.values()))[0] for v in by_seed.values()])
        rmse = np.mean([np.sqrt(np.mean([(p - y) ** 2 for p, y in v.values()])) for v in by_seed.values()])
        lines.append(f"| {name} | {trained_on[name]} | {b['items']} | {fmt(b['gain'])} [{fmt(b['low'])}, "
                     f"{fmt(b['high'])}] | {fmt(rho)} | {fmt(rmse)} |")
    tested = {i for by_seed in per.values() for v in by_seed.values() for i in v}
    core = {c.id for c in complexes if c.meta.get("set") == "core2016"}
    if core and tested == core:
        lines.append(f"| AutoDock Vina (published, Su et al. 2019) | – | 285 | {VINA_CASF2016_PEARSON:.2f} | – | – |")
    return lines


def plot_scatter(rows: list[dict], path: Path) -> Path:
    """Predicted vs measured pK of the test complexes, one panel per arm (its first seed, folds pooled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..base import read_items

    seed0 = min(int(r["seed"]) for r in rows)
    first: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        if int(r["seed"]) == seed0:
            first.setdefault((r["encoder"], r["plm"]), []).append(r)
    fig, axes = plt.subplots(1, len(first), figsize=(3.8 * len(first), 3.8), squeeze=False)
    for ax, ((enc, arm), rs) in zip(axes[0], first.items()):
        items = [i for r in rs for i in read_items(Path(r["run"]) / "items.csv")]
        x, y = [float(i["pk"]) for i in items], [float(i["pred"]) for i in items]
        ax.scatter(x, y, s=10, alpha=0.7)
        lo, hi = min(x + y), max(x + y)
        ax.plot([lo, hi], [lo, hi], "k:", lw=1)
        r = float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 else float("nan")
        ax.set(xlabel="measured pK", ylabel="predicted pK (held out)",
               title=f"{enc} + PLM {arm}: r {r:.2f}, n {len(x)}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
