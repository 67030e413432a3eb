"""Interface prediction as a registered task: training data from any pair source, evaluation on any labelled
source, and per-residue probabilities for new pairs (CSV, and PDB files with the probability as B-factor)."""
from __future__ import annotations

import copy
import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ....errors import InputError
from ....train.config import TrainConfig
from ....train.experiment import Experiment
from ....train.loop import TaskModule
from ....train.metrics import binary_metrics
from ...complexes import ComplexGraphs, collate_pairs
from ...featurize import featurize
from ...io import read_structure, structure_to_pdb
from ...plm import arms
from ...run import (
    ProteinRun,
    build_encoder,
    collect,
    complex_set,
    describe,
    loaders,
    parameter_counts,
    plm_source,
    select,
    write_split,
)
from ...structure import Structure
from ..base import ItemGain, PredictInputs, TaskSpec, write_items
from .model import ComplexDataset, InterfaceModel, InterfaceTask


@dataclass
class InterfaceRun(ProteinRun):
    task: str = "interface"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/auroc", mode="max"))


def complex_items(pred: dict[str, np.ndarray]) -> list[dict]:
    """Per test complex: residues, interface residues, AUROC and AUPRC of its residues."""
    rows = []
    for cid in sorted(set(pred["complex"].tolist())):
        m = pred["complex"] == cid
        b = binary_metrics(pred["score"][m], pred["label"][m])
        rows.append({"item": cid, "residues": int(m.sum()), "interface": int(pred["label"][m].sum()),
                     "auroc": b["auroc"], "auprc": b["auprc"]})
    return rows


class InterfaceSpec(TaskSpec):
    name = "interface"
    description = "which residues of each partner touch the other (per-residue AUROC / AUPRC)"
    config = InterfaceRun
    columns = {"auroc": False, "auprc": False, "median_group_auroc": False}
    gain = ItemGain("per-complex AUROC", ("auroc",))
    predict_help = "--receptor R --ligand L, or --pairs CSV: per-residue probabilities (CSV, PDB B-factors)"

    def build_model(self, cfg, plm_dim):
        return InterfaceModel(build_encoder(cfg.model, plm_dim), dropout=cfg.model.dropout)

    def datasets(self, cfg, log) -> tuple[dict[str, ComplexDataset], object, dict[str, list[str]]]:
        cset = complex_set(cfg.data)
        ids = select(cfg.data, cset, log=log)
        return {k: ComplexDataset([cset[i] for i in v], cfg.data.label) for k, v in ids.items() if v}, cset, ids

    def _score(self, model, data: dict[str, ComplexDataset], task: InterfaceTask, out: Path) -> dict:
        results = {}
        for split, items in data.items():
            if split == "train":
                continue
            pred = collect(model, items, task, collate_pairs)
            results[split] = {**task.metrics(pred), "complexes": len(items), "residues": int(len(pred["label"]))}
            np.savez_compressed(out / f"predictions_{split}.npz", **pred)
            if split == "test":
                write_items(complex_items(pred), out / "items.csv")
        return results

    def experiment(self, cfg, run_dir: Path, log) -> Experiment:
        data, cset, ids = self.datasets(cfg, log)
        write_split(run_dir, ids)
        model = self.build_model(cfg, arms.dim(cset.plm) if cset.plm else None)
        counts = parameter_counts(model)
        task = InterfaceTask(cfg.data.label, data["train"].positive_weight())
        train, val = loaders(data["train"], data["val"], cfg.train, collate_pairs)
        return Experiment(TaskModule(model, task, cfg.train), train, val,
                          lambda m: self._score(m, data, task, run_dir), counts,
                          describe(cfg, counts, {k: len(v) for k, v in data.items()}))

    def evaluate(self, trained, data, out: Path, log) -> dict:
        cfg = trained.cfg if data is None else _with_data(trained.cfg, data)
        sets, _, _ = self.datasets(cfg, log)
        return self._score(trained.model, sets, InterfaceTask(cfg.data.label), out)

    def predict(self, models: list, inputs: PredictInputs, out: Path, log) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for cid, rec_file, lig_file in inputs.pair_list():
            s = {"r": read_structure(rec_file), "l": read_structure(lig_file)}
            probs = residue_probabilities(models, s["r"], s["l"], cid)
            written += write_probabilities(cid, s, probs, out)
            log(f"{cid}: {len(probs['r'][0])} + {len(probs['l'][0])} residues -> {out / (cid + '_interface.csv')}")
        return written

    def pool(self, cfg, log=print) -> list[str]:
        return complex_set(cfg.data).ids_with_embeddings()

    def figure(self, rows: list[dict], path: Path) -> Path:
        return plot_roc(rows, path)


def _with_data(cfg, data):
    out = copy.deepcopy(cfg)
    out.data = data
    return out


def residue_probabilities(models: list, receptor: Structure, ligand: Structure,
                          cid: str = "pair") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Interface probabilities of both partners from a trained interface run (the mean over its models: one, or one
    per fold): per role "r" / "l", (structure residue index of each graph node (n,), probability (n,))."""
    cfg = models[0].cfg
    if cfg.task != "interface":
        raise InputError(f"an interface run is needed, not a {cfg.task} run")
    source = plm_source(cfg.data)
    g = {"r": featurize(receptor, name=f"{cid}_r"), "l": featurize(ligand, name=f"{cid}_l")}
    if source is not None:
        arms.attach_by_sequence(cfg.data.plm, source, list(g.values()))
    batch = collate_pairs([ComplexGraphs(cid, g["r"], g["l"])])
    with torch.no_grad():
        p = torch.stack([torch.sigmoid(torch.cat(m.model(batch))) for m in models]).mean(0).numpy()
    n = g["r"].num_nodes
    return {"r": (g["r"].structure_residue.numpy(), p[:n]), "l": (g["l"].structure_residue.numpy(), p[n:])}


def write_probabilities(cid: str, structures: dict, probs: dict, out: Path) -> list[Path]:
    """``{cid}_interface.csv`` (partner, chain, residue number, insertion code, name, probability) and
    ``{cid}_receptor.pdb`` / ``{cid}_ligand.pdb`` with every atom's B-factor set to its residue's probability
    (0 for residues without a prediction: no Cα, hetero groups); ``probs`` as :func:`residue_probabilities`."""
    table = out / f"{cid}_interface.csv"
    files = [table]
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["partner", "chain", "residue_number", "insertion_code", "residue_name", "probability"])
        for role, partner in (("r", "receptor"), ("l", "ligand")):
            s, (rows, p) = structures[role], probs[role]
            for r, value in zip(rows, p):
                w.writerow([partner, s.res_chain[r], int(s.res_number[r]), s.res_icode[r], s.res_name[r],
                            f"{float(value):.4f}"])
            per_residue = np.zeros(s.n_residues, dtype=np.float32)
            per_residue[rows] = p
            coloured = dataclasses.replace(s, b_factor=per_residue[s.atom_residue].astype(np.float32))
            pdb = out / f"{cid}_{partner}.pdb"
            pdb.write_text(structure_to_pdb(coloured))
            files.append(pdb)
    return files


def plot_roc(rows: list[dict], path: Path) -> Path:
    """ROC curves of every (encoder, PLM) arm, the test predictions of all its runs pooled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["encoder"], r["plm"]), []).append(r)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    for (enc, arm), rs in sorted(groups.items()):
        scores, labels = [], []
        for r in rs:
            z = np.load(Path(r["run"]) / "predictions_test.npz")
            scores.append(z["score"])
            labels.append(z["label"])
        fpr, tpr, _ = roc_curve(np.concatenate(labels), np.concatenate(scores))
        mean_auc = np.nanmean([r["auroc"] for r in rs])
        ax.plot(fpr, tpr, label=f"{enc} + {arm} (AUROC {mean_auc:.3f})", ls="-" if arm != "none" else "--")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Interface residues, test sets pooled")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
