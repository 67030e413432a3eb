"""Binding-affinity experiments: complexes from a PDBbind-style folder (``lba_toy``) or Atom3D LBA LMDB
data sets, pocket residues with PLM features of their whole chains, k-fold cross-validation (or the LMDB's own
train/val/test splits), and the prediction for one complex from the CLI (averaged over a CV run's folds)."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data import dataset_path
from ..train.config import TrainConfig, claim_run_dir, load_yaml, save_yaml
from ..train.loop import EpochShuffle, TaskModule, fit, write_metrics
from .compare import kfold
from .encoders import parameter_count
from .experiment import ModelConfig, load_best
from .featurize import featurize
from .io import atom3d_atoms_to_structure, atom3d_entries, read_structure
from .ligand import ligand_from_atoms, read_ligand
from .structure import Structure, StructureError
from .tasks.affinity import AffinityModel, AffinityTask, affinity_encoder, complex_graph


@dataclass
class AffinityComplex:
    id: str
    pocket: Structure
    ligand: object               # RDKit molecule, heavy atoms, 3D
    pk: float
    protein: Structure | None    # whole protein, for PLM features of the pocket residues


def lba_folder(root: str | Path) -> tuple[list[AffinityComplex], list[tuple[str, str]]]:
    """``root/labels.csv`` (pdbid,pK) and ``root/complexes/{id}/{id}_{pocket.pdb[.gz],ligand.sdf|mol2,
    protein.pdb[.gz]}`` (PDBbind layout). Unreadable complexes are skipped and returned with the reason."""
    root = Path(root)
    labels = root / "labels.csv"
    if not labels.exists():
        raise FileNotFoundError(f"{root}: no labels.csv (pdbid,pK)")
    out, skipped = [], []
    for row in csv.DictReader(open(labels)):
        cid = row["pdbid"]
        folder = root / "complexes" / cid
        try:
            pocket = read_structure(_first(folder, f"{cid}_pocket", (".pdb.gz", ".pdb")))
            ligand = read_ligand(_first(folder, f"{cid}_ligand", (".sdf", ".mol2")))
            protein_file = _first(folder, f"{cid}_protein", (".pdb.gz", ".pdb"), required=False)
            out.append(AffinityComplex(cid, pocket, ligand, float(row["pK"]),
                                       read_structure(protein_file) if protein_file else None))
        except (ValueError, OSError) as e:
            skipped.append((cid, str(e)))
    return out, skipped


def _first(folder: Path, stem: str, suffixes, required: bool = True) -> Path | None:
    for s in suffixes:
        if (folder / (stem + s)).exists():
            return folder / (stem + s)
    if required:
        raise FileNotFoundError(f"{folder}: no {stem}{'|'.join(suffixes)}")
    return None


def read_lba_lmdb(path: str | Path) -> tuple[list[AffinityComplex], list[tuple[str, str]]]:
    """Entries of an Atom3D LBA LMDB data set (``atoms_pocket``, ``atoms_ligand``, ``atoms_protein`` tables,
    ``smiles``, ``scores.neglog_aff``); ligands are rebuilt from their atoms and SMILES. Entries that cannot
    be read are skipped with the reason; a data set that is not LBA at all is refused."""
    path = Path(path)
    out, skipped = [], []
    for i, item in atom3d_entries(path):
        if item is None:
            skipped.append((str(i), "entry missing although num_examples counts it"))
            continue
        cid = str(item.get("id", i))
        lacking = [k for k in ("atoms_pocket", "atoms_ligand", "scores") if k not in item]
        if lacking:
            raise StructureError(path, f"entry {i} ({cid}) lacks {', '.join(lacking)}: not an Atom3D LBA "
                                       f"data set")
        try:
            src = f"{path}#{cid}"
            pocket = atom3d_atoms_to_structure(item["atoms_pocket"], src + ":pocket")
            table = item["atoms_ligand"]
            col = {c: k for k, c in enumerate(table["columns"])}
            rows = table["data"]
            ligand = ligand_from_atoms([r[col["element"]] for r in rows],
                                       np.array([[r[col[a]] for a in "xyz"] for r in rows], dtype=float),
                                       item.get("smiles", ""), src + ":ligand")
            protein = atom3d_atoms_to_structure(item["atoms_protein"], src + ":protein") \
                if "atoms_protein" in item else None
            out.append(AffinityComplex(cid, pocket, ligand, float(item["scores"]["neglog_aff"]), protein))
        except (ValueError, KeyError, TypeError) as e:
            skipped.append((cid, str(e)))
    return out, skipped


def pocket_plm(c: AffinityComplex, store, model: str, layers: str) -> tuple[np.ndarray, np.ndarray]:
    """Per pocket residue: the embedding row of the same residue in its whole chain (matched by chain, number
    and insertion code); False in the mask where the pocket residue is not in the protein (ions, waters)."""
    from .plm.align import attach_from_store

    if c.protein is None:
        raise ValueError(f"{c.id}: PLM features need the whole protein (the pocket alone is a few fragments)")
    g = featurize(c.protein, name=c.id)
    attach_from_store(g, store, model, layers)
    key = {(g.chain_ids[int(ch)], int(n), int(ic)): k
           for k, (ch, n, ic) in enumerate(zip(g.chain, g.residue_number, g.insertion_code))}
    emb = np.zeros((c.pocket.n_residues, g.plm.shape[1]), dtype=np.float32)
    mask = np.zeros(c.pocket.n_residues, dtype=bool)
    for r in range(c.pocket.n_residues):
        icode = c.pocket.res_icode[r]
        k = key.get((str(c.pocket.res_chain[r]), int(c.pocket.res_number[r]), ord(icode) if icode else 0))
        if k is not None and bool(g.plm_mask[k]):
            emb[r], mask[r] = g.plm[k].numpy(), True
    return emb, mask


@dataclass
class AffinityData:
    source: str = "lba_toy"  # lba_toy, a folder in its layout, an Atom3D LBA LMDB, or a folder of train/val/test LMDBs
    plm: str = "none"        # none | default (our own PLM, embedded on first use)
    folds: int = 5           # k-fold cross-validation when the source has no splits of its own
    radius: float = 5.0
    cache_dir: str = "cache"


@dataclass
class AffinityRun:
    data: AffinityData = field(default_factory=AffinityData)
    model: ModelConfig = field(default_factory=lambda: ModelConfig(out_dim=64))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/rmse", mode="min"))


def load_complexes(source: str) -> tuple[dict[str, list[AffinityComplex]] | list[AffinityComplex], list]:
    """A list (to be k-folded) or a dict of given splits, and the skipped items."""
    path = dataset_path("lba_toy") if source == "lba_toy" else Path(source)
    if (path / "labels.csv").exists():
        return lba_folder(path)
    if all((path / s).exists() for s in ("train", "val", "test")):
        splits, skipped = {}, []
        for s in ("train", "val", "test"):
            splits[s], bad = read_lba_lmdb(path / s)
            skipped += bad
        return splits, skipped
    return read_lba_lmdb(path)


def plm_features(cfg: AffinityRun, complexes: list[AffinityComplex]) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    if cfg.data.plm == "none":
        return None
    if cfg.data.plm != "default":
        raise ValueError(f"affinity PLM arm must be none or default (no ESM-2 embeddings exist for these "
                         f"proteins here), not {cfg.data.plm!r}")
    from .plm.backends import load_plm
    from .plm.extract import LayerSpec
    from .plm.pipeline import embed_to_store
    from .plm.registry import DEFAULT_PLM
    from .plm.store import EmbeddingStore

    plm = load_plm(DEFAULT_PLM)
    layers = LayerSpec().key(plm.num_layers)
    store_path = Path(cfg.data.cache_dir) / "plm_store"
    named = [(f"{c.id}_{ch.id}", ch.sequence) for c in complexes if c.protein is not None for ch in c.protein.chains()]
    with EmbeddingStore(store_path) as store:
        embed_to_store(plm, named, store, LayerSpec())
        return {c.id: pocket_plm(c, store, plm.id, layers) for c in complexes}


def graphs_of(cfg: AffinityRun, complexes: list[AffinityComplex]) -> list:
    plm = plm_features(cfg, complexes)
    out = []
    for c in complexes:
        g = complex_graph(c.pocket, c.ligand, plm[c.id] if plm else None, cfg.data.radius, name=c.id)
        g.y, g.id = torch.tensor([c.pk], dtype=torch.float32), c.id
        out.append(g)
    return out


def build_affinity_model(cfg: AffinityRun, plm_dim: int | None) -> AffinityModel:
    m = cfg.model
    encoder = affinity_encoder(m.encoder, m.fusion, plm_dim, out_dim=m.out_dim, layers=m.layers, dropout=m.dropout)
    return AffinityModel(encoder, dropout=m.dropout)


def _collate(items):
    from torch_geometric.data import Batch

    return Batch.from_data_list(items)


def _predict(model, graphs, task) -> dict[str, np.ndarray]:
    model.eval()
    with torch.no_grad():
        parts = [task.predictions(model(b), b) for b in DataLoader(graphs, batch_size=16, collate_fn=_collate)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def train_fold(cfg: AffinityRun, graphs: dict[str, list], run_dir: Path, progress: bool, log) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, run_dir / "config.yaml")
    y = np.array([float(g.y) for g in graphs["train"]])
    task = AffinityTask(float(y.mean()), float(y.std()) or 1.0)
    dim = graphs["train"][0].plm.shape[1] if "plm" in graphs["train"][0] else None
    model = build_affinity_model(cfg, dim)
    sampler = EpochShuffle(len(graphs["train"]), cfg.train.seed)
    train = DataLoader(graphs["train"], batch_size=cfg.train.batch_size, sampler=sampler, collate_fn=_collate)
    val = DataLoader(graphs["val"], batch_size=cfg.train.batch_size, collate_fn=_collate)
    module = TaskModule(model, task, cfg.train)
    trainer = fit(module, train, val, run_dir, progress)

    model = load_best(module.model, run_dir).cpu()
    results = {"parameters": parameter_count(model), "epochs": trainer.current_epoch,
               "standardisation": {"mean": task.mean, "std": task.std}}
    for split in ("val", "test"):
        pred = _predict(model, graphs[split], task)
        results[split] = {**task.metrics(pred), "complexes": len(graphs[split])}
        np.savez(run_dir / f"predictions_{split}.npz", **pred)
    write_metrics(run_dir, "metrics", results)
    return results


def train_affinity(cfg: AffinityRun, out: str | Path, progress: bool = True, log=print) -> dict:
    """k-fold cross-validation (or the source's own splits): one run folder per fold, then the summary
    (mean ± std over folds, pooled test predictions), ``predictions.csv`` and ``scatter.png``."""
    out = claim_run_dir(cfg, out)
    complexes, skipped = load_complexes(cfg.data.source)
    for cid, why in skipped:
        log(f"skipped {cid}: {why}")
    if not complexes or (isinstance(complexes, dict) and not all(complexes.values())):
        raise ValueError(f"{cfg.data.source}: no readable complexes ({len(skipped)} skipped)")
    if isinstance(complexes, dict):
        everything = [c for part in complexes.values() for c in part]
        graphs = dict(zip([c.id for c in everything], graphs_of(cfg, everything)))
        folds = [[[c.id for c in complexes[s]] for s in ("train", "val", "test")]]
    else:
        graphs = dict(zip([c.id for c in complexes], graphs_of(cfg, complexes)))
        folds = kfold(list(graphs), cfg.data.folds, seed=0)
    log(f"affinity, {cfg.model.encoder} + PLM {cfg.data.plm}: {len(graphs)} complexes, {len(folds)} fold(s)")
    per_fold = []
    for k, (train, val, test) in enumerate(folds):
        done = out / f"fold{k}" / "metrics.json"
        split = {"train": [graphs[i] for i in train], "val": [graphs[i] for i in val], "test": [graphs[i] for i in test]}
        per_fold.append(json.loads(done.read_text()) if done.exists() else train_fold(cfg, split, out / f"fold{k}",
                                                                                      progress, log))
        log(f"fold {k}: test " + ", ".join(f"{m} {per_fold[-1]['test'][m]:.3f}" for m in ("rmse", "pearson", "spearman")))
    pooled = [np.load(out / f"fold{k}" / "predictions_test.npz") for k in range(len(folds))]
    pred = {key: np.concatenate([p[key] for p in pooled]) for key in ("pred", "pk", "id")}
    summary = {"folds": len(folds), "complexes": len(graphs), "skipped": skipped, "parameters": per_fold[0]["parameters"],
               "pooled": AffinityTask().metrics(pred)}
    for m in ("rmse", "pearson", "spearman"):
        vals = np.array([f["test"][m] for f in per_fold])
        summary[m] = {"mean": float(np.nanmean(vals)), "std": float(np.nanstd(vals))}
    with open(out / "predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "pK", "predicted"])
        w.writerows([i, f"{p:.3f}", f"{q:.3f}"] for i, p, q in zip(pred["id"], pred["pk"], pred["pred"]))
    _scatter(pred, summary, out / "scatter.png", f"{cfg.model.encoder} + PLM {cfg.data.plm}")
    write_metrics(out, "summary", summary)
    return summary


def _scatter(pred, summary, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=120)
    ax.scatter(pred["pk"], pred["pred"], s=12)
    lo, hi = float(min(pred["pk"].min(), pred["pred"].min())), float(max(pred["pk"].max(), pred["pred"].max()))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
    ax.set_xlabel("measured pK")
    ax.set_ylabel("predicted pK (held-out fold)")
    p = summary["pooled"]
    ax.set_title(f"{title}\nRMSE {p['rmse']:.2f}, Pearson {p['pearson']:.2f}, Spearman {p['spearman']:.2f}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def predict_affinity(run: str | Path, pocket: str | Path, ligand: str | Path, protein: str | Path | None = None) -> dict:
    """pK of one complex: one fold's model, or the mean over every fold of a cross-validation run."""

    run = Path(run)
    folds = sorted(run.glob("fold*/checkpoints/best.ckpt")) or ([run / "checkpoints" / "best.ckpt"]
                                                              if (run / "checkpoints" / "best.ckpt").exists() else [])
    if not folds:
        raise FileNotFoundError(f"{run}: no trained affinity model (fold*/checkpoints/best.ckpt)")
    cfg = load_yaml(AffinityRun, folds[0].parents[1] / "config.yaml")
    c = AffinityComplex("input", read_structure(pocket), read_ligand(ligand), float("nan"),
                        read_structure(protein) if protein else None)
    if cfg.data.plm != "none" and protein is None:
        raise ValueError("this model uses PLM features of the whole protein: pass --protein")
    graph = graphs_of(cfg, [c])[0]
    preds = []
    for ckpt in folds:
        stats = json.loads((ckpt.parents[1] / "metrics.json").read_text())["standardisation"]
        model = load_best(build_affinity_model(cfg, graph.plm.shape[1] if "plm" in graph else None), ckpt.parents[1])
        task = AffinityTask(stats["mean"], stats["std"])
        preds.append(float(_predict(model, [graph], task)["pred"][0]))
    return {"pK": float(np.mean(preds)), "per_model": preds}
