"""Quality assessment of docked complexes as a registered task: labelled decoy sets built from any pair
source (split by complex, never by decoy), training, evaluation on the test targets (perturbations; the source's
EquiDock baselines and a docking run's predictions where given) and on the external HADDOCK decoys of
``qa_decoys`` (targets held out of training), and ranking of any folder of complex models."""
from __future__ import annotations

import copy
import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Batch

from ....data import dataset_path
from ....errors import InputError, MissingError
from ....graph.cache import file_sha256
from ....train.config import TrainConfig
from ....train.experiment import Experiment
from ....train.loop import EpochShuffle, TaskModule
from ....train.ranking import TargetBatches
from ...complexes import ComplexSet
from ...docking_metrics import capri
from ...featurize import GraphConfig, featurize
from ...io import is_structure_file, read_structure
from ...plm import arms
from ...run import ProteinRun, build_encoder, complex_set, describe, parameter_counts, plm_source, select, write_split
from ..base import ItemGain, PredictInputs, TaskSpec, write_items, write_ranking
from .decoys import (
    LABELS,
    SEARCH_SOURCES,
    Decoy,
    external_decoys,
    folder_decoys,
    perturbation_decoys,
    read_decoys,
    split_partners,
    surface_decoys,
    write_decoys,
)
from .model import CONTACT_DIM, DecoyGraphs, QualityModel, QualityTask, collate_graphs, decoy_graph

#: qa_decoys targets and their (receptor, ligand) chains, from the data README
EXTERNAL = {"1ATN": (["A"], ["B"]), "1AK4": (["C"], ["D"])}
BASELINES = ("equidock", "equidock_no_clashes", "hdock", "attract", "cluspro", "patchdock")


@dataclass
class QualityConfig:
    decoys_per_target: int = 6        # rigid perturbations per training / validation target
    surface_per_target: int = 4       # random surface-contact poses per training / validation target
    clash_per_target: int = 2         # random interpenetrating poses (2-8 Å past contact) per train / val target
    test_decoys_per_target: int = 10  # per test target, besides the baselines
    baselines: bool = True            # the source's EquiDock baselines (docking_test/baselines) join the test set
    docking_run: str = ""             # a docking run whose predictions join the decoys
    search_decoys: str = ""           # a `protein decoys` folder: every target's search decoys join its split
    search_sampled: int = 0           # its `search` poses kept per training / validation target, drawn with
                                      # decoy_seed (0: all); cluster heads and near-natives always kept, test whole
    external: bool = True             # qa_decoys targets: held out of training, evaluated apart
    contact_radius: float = 12.0
    interface: bool = False           # graphs of the interface residues only (Cα within contact_radius of the
                                      # other partner; at least 8 per partner), the head reading their counts
    contacts: bool = False            # edges also carry atom-level channels: virtual-Cβ and closest backbone-atom
                                      # distances (featurize.contact_channels)
    decoy_seed: int = 0
    rank_weight: float = 0.0          # pairwise ranking term within targets (batches drawn within targets when > 0)

    def graph_options(self) -> dict:
        """How a decoy becomes a graph: the keywords of :func:`model.decoy_graph`."""
        return {"contact_radius": self.contact_radius, "interface": self.interface, "contacts": self.contacts}


@dataclass
class QualityRun(ProteinRun):
    task: str = "qa"
    quality: QualityConfig = field(default_factory=QualityConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/spearman", mode="max"))


def decoy_sets(cfg: QualityRun, cset: ComplexSet, ids: dict[str, list[str]], log=print) -> dict[str, list[Decoy]]:
    """Labelled decoys per split, cached by content (the targets' files, counts, seed, sources); reused."""
    q = cfg.quality
    baselines = cset.source.root / "docking_test" / "baselines"
    out = {}
    for split, targets in ids.items():
        if not targets:
            continue
        n = q.test_decoys_per_target if split == "test" else q.decoys_per_target
        # the test set keeps its composition: perturbations and the methods' decoys
        n_surface, n_clash = (0, 0) if split == "test" else (q.surface_per_target, q.clash_per_target)
        methods = split == "test" and q.baselines and baselines.is_dir()
        files = [file_sha256(cset.path(c, r, "b")) for c in targets for r in "rl"]
        key = hashlib.sha256(json.dumps([files, n, q.decoy_seed, bool(methods), q.docking_run, split == "test",
                                         n_surface, n_clash, "v4"]).encode()).hexdigest()[:16]
        path = Path(cfg.data.cache_dir) / "qa" / f"{split}-{key}.csv"
        if path.exists():
            out[split] = read_decoys(path) + searched(q.search_decoys, split, targets, log, *kept(q, split))
            continue
        structures = {c: (cset.structure(c, "r", "b"), cset.structure(c, "l", "b")) for c in targets}
        decoys = []
        for k, (cid, (rec, lig)) in enumerate(structures.items()):
            decoys += perturbation_decoys(cid, rec, lig, n, seed=q.decoy_seed)
            decoys += surface_decoys(cid, rec, lig, n_surface, seed=q.decoy_seed)
            decoys += surface_decoys(cid, rec, lig, n_clash, seed=q.decoy_seed, depth=(2.0, 8.0),
                                     source="interpenetrating")
            if (k + 1) % 25 == 0:
                log(f"{split}: decoys of {k + 1}/{len(targets)} targets")
        skipped: list[tuple[str, str]] = []
        recs, ligs = ({c: s[i] for c, s in structures.items()} for i in (0, 1))
        folders = [(baselines / m, m) for m in BASELINES if methods and (baselines / m).is_dir()]
        if q.docking_run and split == "test":
            folders.append((Path(q.docking_run) / "test_predictions", "intergraph"))
        for folder, source in folders:
            decoys += folder_decoys(folder, source, recs, ligs, skipped)
        if q.docking_run and split != "test":
            decoys += docked_decoys(Path(q.docking_run), cset, structures)
        for name, why in skipped:
            log(f"skipped decoy {name}: {why}")
        write_decoys(decoys, path)
        out[split] = decoys + searched(q.search_decoys, split, targets, log, *kept(q, split))
    return out


def kept(q: QualityConfig, split: str) -> tuple[int, int]:
    """(search poses kept per target, seed) for ``split``: the test set keeps every decoy."""
    return (0 if split == "test" else q.search_sampled), q.decoy_seed


def searched(folder: str, split: str, targets: list[str], log=print, sampled: int = 0, seed: int = 0) -> list[Decoy]:
    """The search decoys (:mod:`search_decoys`) of ``targets`` from a ``protein decoys`` folder ("" : none);
    targets the folder lacks are named. ``sampled`` > 0 keeps that many of each target's ``search`` poses (a
    draw seeded by ``seed`` and the target id; cluster heads and near-natives are all kept)."""
    if not folder:
        return []
    root = Path(folder) / "targets"
    if not root.is_dir():
        raise MissingError(f"{folder}: not a decoy folder of `protein decoys` (no targets/)")
    missing = [t for t in targets if not (root / f"{t}.csv").exists()]
    if missing:
        log(f"{split}: {len(missing)} of {len(targets)} targets have no search decoys in {folder}: "
            f"{', '.join(missing)}")
    out = []
    for t in targets:
        if t in missing:
            continue
        decoys = read_decoys(root / f"{t}.csv")
        pool = [d for d in decoys if d.source == "search"]
        if 0 < sampled < len(pool):
            rng = np.random.default_rng([seed, int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)])
            chosen = {pool[i].decoy for i in rng.choice(len(pool), sampled, replace=False)}
            decoys = [d for d in decoys if d.source != "search" or d.decoy in chosen]
        out += decoys
    return out


def docked_decoys(run: Path, cset: ComplexSet, structures: dict) -> list[Decoy]:
    """One decoy per training/validation target: the docking run's prediction for its bound partners (the model
    does not depend on the input poses, so the bound files serve as inputs), labelled against the native."""
    from ...run import load_models
    from ..docking.model import docked_pose
    from .decoys import labelled

    models = load_models(run)
    if len(models) != 1:
        raise InputError(f"{run}: a docking run with one model is needed (a fold folder of a k-fold run)")
    dcfg, model = models[0].cfg, models[0].model
    dset = complex_set(dcfg.data)
    out = []
    for cid, (rec, lig) in structures.items():
        item = dset[cid]
        rot, trans = docked_pose(model, item.receptor, item.ligand, cid)
        out.append(labelled(cid, f"{cid}_intergraph", "intergraph", rot, trans, rec, lig))
    return out


def _by_source(cat: dict, task: QualityTask) -> dict[str, dict]:
    kinds = np.array(["perturbation" if s == "perturbation" else "search" if s in SEARCH_SOURCES
                      else "docking methods" for s in cat["source"]])
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


def target_items(cat: dict, acceptable: float = 0.23) -> list[dict]:
    """Per test target: decoys, Spearman of predicted vs true DockQ, the true DockQ of the top-ranked decoy, the
    best DockQ among its decoys and the loss (best − top-ranked), and whether an acceptable decoy (DockQ ≥
    ``acceptable``) is among the top 1 / 5 / 10 by prediction (1 / 0; NaN when the target has none at all)."""
    from scipy import stats

    rows = []
    for t in sorted(set(cat["target"].tolist())):
        m = cat["target"] == t
        p, y = cat["pred_dockq"][m], cat["dockq"][m]
        rho = float(stats.spearmanr(p, y)[0]) if m.sum() > 2 and np.std(p) > 0 and np.std(y) > 0 else float("nan")
        ranked = y[np.argsort(-p, kind="stable")]
        row = {"item": t, "decoys": int(m.sum()), "spearman": rho, "top1_dockq": float(ranked[0]),
               "best_dockq": float(y.max()), "loss": float(y.max() - ranked[0])}
        for n in (1, 5, 10):
            row[f"success@{n}"] = float((ranked[:n] >= acceptable).any()) if y.max() >= acceptable else float("nan")
        rows.append(row)
    return rows


def _evaluate(model, items, task, batch_size: int) -> tuple[dict, dict]:
    model.eval()
    with torch.no_grad():
        collected = [task.predictions(model(b), b) for b in DataLoader(items, batch_size=batch_size,
                                                                         collate_fn=collate_graphs)]
    cat = {k: np.concatenate([c[k] for c in collected]) for k in collected[0]}
    return task.metrics(cat), cat


def external_graphs(cfg: QualityRun, source, log=print) -> list:
    """Complex graphs of the qa_decoys HADDOCK models (PLM features by chain sequence when the run uses a
    PLM; targets whose chains have none are skipped with a message)."""
    from ...plm.align import AlignmentError

    root = dataset_path("qa_decoys")
    graphs = []
    for target, (rc, lc) in EXTERNAL.items():
        for d in external_decoys(root, target, rc, lc):
            parts = [featurize(s, GraphConfig(), name=f"{d.decoy}_{role}")
                     for role, s in (("r", d.receptor), ("l", d.ligand))]
            if source is not None:
                try:
                    arms.attach_by_sequence(cfg.data.plm, source, parts)
                except AlignmentError as e:
                    log(f"external target {target} skipped: {e}")
                    break
            g = decoy_graph(*parts, **cfg.quality.graph_options())
            g.y = torch.tensor([[d.labels["dockq"], d.labels["fnat"]]], dtype=torch.float32)
            g.target, g.decoy, g.source = target, d.decoy, "haddock"
            graphs.append(g)
    return graphs


def pose_quality(models: list, receptor, ligand, poses: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(P, 2) predicted DockQ and fnat of ``ligand`` moved by each rigid pose x ↦ R x + t against ``receptor`` as
    given (both partners featurized once), the mean over the QA run's models (one, or one per fold)."""
    cfg = models[0].cfg
    if cfg.task != "qa":
        raise InputError(f"a quality-assessment run (`protein train --task qa`) is needed, not a {cfg.task} run")
    parts = [featurize(s, GraphConfig(), name=f"pose_{role}") for role, s in (("r", receptor), ("l", ligand))]
    source = plm_source(cfg.data)
    if source is not None:
        arms.attach_by_sequence(cfg.data.plm, source, parts)
    graphs = [decoy_graph(*parts, (r, t), **cfg.quality.graph_options()) for r, t in poses]
    return _predicted(models, graphs)


def reranked(models: list, receptor, ligand, placements: list) -> tuple[list, np.ndarray]:
    """Docking placements (rank, rotation, translation of the ligand as given) re-ranked by the QA run's
    predicted DockQ, best first, ranks renumbered; with the predictions in that order."""
    import dataclasses

    predicted = pose_quality(models, receptor, ligand, [(p.rotation.numpy(), p.translation.numpy())
                                                        for p in placements])[:, 0]
    order = np.argsort(-predicted, kind="stable")
    return [dataclasses.replace(placements[k], rank=n + 1) for n, k in enumerate(order)], predicted[order]


def _predicted(models: list, graphs: list) -> np.ndarray:
    """(G, 2) sigmoid outputs (DockQ, fnat) of complex graphs, the mean over ``models``."""
    batch = Batch.from_data_list(graphs)
    with torch.no_grad():
        return np.mean([torch.sigmoid(m.model(batch)).numpy() for m in models], axis=0)


class QualitySpec(TaskSpec):
    name = "qa"
    description = "quality of docked complexes: predicted DockQ (and fnat) of each model, ranked per target"
    config = QualityRun
    columns = {"spearman": False, "local_spearman": False, "pearson": False, "kendall": False, "top1_dockq": False}
    gain = ItemGain("per-target Spearman", ("spearman",))
    predict_help = ("--models DIR [--native N] (complex files; partners by --receptor-chains/--ligand-chains or a "
                    "two-chain split), or --receptor R --ligand L / --pairs CSV (partners as posed): ranking.csv")

    def build_model(self, cfg, plm_dim):
        extra = {"edge_s_dim": GraphConfig().edge_scalar_dim + CONTACT_DIM} if cfg.quality.contacts else {}
        return QualityModel(build_encoder(cfg.model, plm_dim, **extra), dropout=cfg.model.dropout,
                            sizes=cfg.quality.interface)

    def data(self, cfg, log) -> tuple[ComplexSet, dict, dict]:
        cset = complex_set(cfg.data)
        if cfg.data.form != "b":
            raise InputError("quality assessment builds decoys from bound complexes (form 'b')")
        exclude = set(EXTERNAL) if cfg.quality.external else set()
        ids = select(cfg.data, cset, exclude, log)
        decoys = decoy_sets(cfg, cset, ids, log)
        forms = {(d.target, d.form) for v in decoys.values() for d in v}
        sets = {"b": cset, **({"u": complex_set(cfg.data, form="u")} if any(f == "u" for _, f in forms) else {})}
        partners = {(c, f): sets[f][c] for c, f in forms}
        q = cfg.quality
        return cset, ids, {k: DecoyGraphs(v, partners, **q.graph_options()) for k, v in decoys.items()}

    def experiment(self, cfg, run_dir: Path, log) -> Experiment:
        cset, ids, data = self.data(cfg, log)
        write_split(run_dir, ids)
        model = self.build_model(cfg, arms.dim(cset.plm) if cset.plm else None)
        counts = parameter_counts(model)
        bs = cfg.train.batch_size
        if cfg.quality.rank_weight:     # every batch holds one target's decoys: pairs to rank
            train = DataLoader(data["train"], collate_fn=collate_graphs, batch_sampler=TargetBatches(
                [d.target for d in data["train"].decoys], bs, cfg.train.seed))
        else:
            train = DataLoader(data["train"], batch_size=bs, sampler=EpochShuffle(len(data["train"]), cfg.train.seed),
                               collate_fn=collate_graphs)
        return Experiment(TaskModule(model, QualityTask(cfg.quality.rank_weight), cfg.train), train,
                          DataLoader(data["val"], batch_size=bs, collate_fn=collate_graphs),
                          lambda m: self._score(cfg, m, cset, data, run_dir, log), counts,
                          describe(cfg, counts, {k: f"{len(v)} ({len(ids[k])} targets)" for k, v in data.items()},
                                   "decoys"))

    def _score(self, cfg, model, cset: ComplexSet, data: dict, out: Path, log) -> dict:
        """Validation, test (overall and by decoy source) and external metrics; per-decoy predictions of each as
        CSV (``predictions_{val,test,external}.csv``)."""
        task, bs, results = QualityTask(cfg.quality.rank_weight), cfg.train.batch_size, {}
        for split in ("val", "test"):       # per-decoy predictions of both: rules on top of them choose on val
            if split in data:
                results[split], cat = _evaluate(model, data[split], task, bs)
                _write_predictions(cat, out / f"predictions_{split}.csv")
        results["test_by_source"] = _by_source(cat, task)
        write_items(target_items(cat), out / "items.csv")
        if cfg.quality.external:
            graphs = external_graphs(cfg, cset.plm, log)
            if graphs:
                results["external"], cat = _evaluate(model, graphs, task, bs)
                _write_predictions(cat, out / "predictions_external.csv")
        return results

    def evaluate(self, trained, data, out: Path, log) -> dict:
        cfg = copy.deepcopy(trained.cfg)
        if data is not None:
            cfg.data = data
        cset, _, sets = self.data(cfg, log)
        return self._score(cfg, trained.model, cset, sets, out, log)

    def predict(self, models: list, inputs: PredictInputs, out: Path, log) -> list[Path]:
        cfg = models[0].cfg
        source = plm_source(cfg.data)
        entries = []  # (name, receptor, ligand)
        if inputs.models is not None:
            if not inputs.models.is_dir():
                raise MissingError(f"{inputs.models}: not a folder of complex models")
            files = sorted(p for p in inputs.models.iterdir() if is_structure_file(p))
            if not files:
                raise InputError(f"{inputs.models}: no structure files")
            skipped = []
            for f in files:
                try:
                    entries.append((f.name, *split_partners(read_structure(f), inputs.receptor_chains,
                                                            inputs.ligand_chains)))
                except InputError as e:
                    skipped.append((f.name, str(e)))
            for name, why in skipped:
                log(f"skipped {name}: {why}")
        else:
            entries = [(cid, read_structure(r), read_structure(lg)) for cid, r, lg in inputs.pair_list()]
        if not entries:
            raise InputError("no model could be read")
        native = None
        if inputs.native is not None:
            native = split_partners(read_structure(inputs.native), inputs.receptor_chains, inputs.ligand_chains)
        rows = []
        for name, rec, lig in entries:
            parts = [featurize(s, GraphConfig(), name=f"{name}_{role}") for role, s in (("r", rec), ("l", lig))]
            if source is not None:
                arms.attach_by_sequence(cfg.data.plm, source, parts)
            pred = _predicted(models, [decoy_graph(*parts, **cfg.quality.graph_options())])[0]
            row = {"model": name, "predicted_dockq": float(pred[0]), "predicted_fnat": float(pred[1])}
            if native is not None:
                c = capri(lig, rec, native[1], native[0])
                row.update({k: float(c[k]) for k in LABELS})
            rows.append(row)
        path = write_ranking(rows, "predicted_dockq", out)
        if native is not None and len(rows) > 2:
            from scipy import stats

            rho = stats.spearmanr([r["predicted_dockq"] for r in rows], [r["dockq"] for r in rows])[0]
            log(f"{len(rows)} models: Spearman of predicted vs true DockQ {rho:.3f}; top-ranked DockQ "
                f"{rows[0]['dockq']:.3f}, best {max(r['dockq'] for r in rows):.3f}")
        log(f"{len(rows)} models ranked -> {path}")
        return [path]

    def pool(self, cfg, log=print) -> list[str]:
        exclude = set(EXTERNAL) if cfg.quality.external else set()
        return [i for i in complex_set(cfg.data).ids_with_embeddings() if i not in exclude]

    def figure(self, rows: list[dict], path: Path) -> Path:
        return plot_predicted_vs_true(rows, path)

    def notes(self, rows: list[dict]) -> list[str]:
        """The reference-free baselines on the search decoys of the runs' test targets (the first seed's split),
        when the runs take search decoys."""
        from ...run import read_config
        from .baselines import folder_baselines

        runs = [Path(r["run"]) for r in rows if r["seed"] == rows[0]["seed"]]
        cfg = read_config(runs[0] / "config.yaml")
        folder = cfg.quality.search_decoys
        if not folder:
            return []
        splits = [json.loads(p.read_text()) for run in runs for p in sorted(run.glob("**/split.json"))]
        tested = sorted({t for s in splits for t in s.get("test", [])})
        decoys = {t: searched(folder, "test", [t], log=lambda m: None) for t in tested}
        decoys = {t: d for t, d in decoys.items() if d}
        if not decoys:
            return []
        cset = complex_set(cfg.data)
        partners = {t: (lambda t=t, f=decoys[t][0].form: (cset.structure(t, "r", f), cset.structure(t, "l", f)))
                    for t in decoys}
        q = cfg.quality
        mixed = q.test_decoys_per_target > 0 or q.baselines or q.docking_run
        return [f"Reference-free baselines on the search decoys of the same test targets ({folder}; 95 % bootstrap "
                "intervals over targets)" + ("; the runs' test sets also hold other decoys, so their rows are not "
                                             "on the same decoys" if mixed else "") + ":", "",
                *folder_baselines(decoys, partners, Path(folder), progress=False)]


def plot_predicted_vs_true(rows: list[dict], path: Path) -> Path:
    """Predicted vs true DockQ of the test decoys, one panel per arm (its first seed, folds pooled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first: dict[tuple[str, str], list[dict]] = {}
    seed0 = min(int(r["seed"]) for r in rows)
    for r in rows:
        if int(r["seed"]) == seed0:
            first.setdefault((r["encoder"], r["plm"]), []).append(r)
    fig, axes = plt.subplots(1, len(first), figsize=(3.8 * len(first), 3.8), squeeze=False)
    for ax, ((enc, arm), rs) in zip(axes[0], first.items()):
        x, y = [], []
        for r in rs:
            with open(Path(r["run"]) / "predictions_test.csv", newline="") as f:
                for p in csv.DictReader(f):
                    x.append(float(p["dockq"]))
                    y.append(float(p["pred_dockq"]))
        ax.scatter(x, y, s=8, alpha=0.6)
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        ax.set(xlabel="true DockQ", ylabel="predicted DockQ", title=f"{enc} + PLM {arm} ({len(x)} decoys)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
