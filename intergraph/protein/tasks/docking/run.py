"""Docking as a registered task: train the keypoint model on bound complexes of any pair source under random
rigid motions; test on EquiDock's protocol where the source ships it (``docking_test/``: the randomly moved
inputs, scored against ``complexes/`` exactly as the shipped baselines are), else on seeded random motions of
the test complexes' bound partners, scored against the bound complex; dock any two structure files."""
from __future__ import annotations

import csv
import dataclasses
import functools
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ....errors import InputError
from ....graph.rigid import random_rotation
from ....train.config import TrainConfig
from ....train.experiment import Experiment
from ....train.loop import EpochShuffle, TaskModule
from ...complexes import ComplexSet, collate_pairs
from ...docking_metrics import score_structures, structure_file, summarize
from ...featurize import featurize
from ...io import read_structure, structure_to_pdb
from ...plm import arms
from ...run import ProteinRun, build_encoder, complex_set, describe, parameter_counts, plm_source, select, write_split
from ...structure import Structure
from ..base import ItemGain, PredictInputs, TaskSpec, read_items, write_items
from . import potential, restraints
from .grids import Body, uses_interface
from .model import DockingModel, DockingPairs, DockingTask, docked_pose
from .search import DEFAULT_ARM, SearchConfig, dock_structures, fitted_weights

SCORES = ("crmsd", "irmsd", "fnat", "dockq")


@dataclass
class DockingConfig:
    keypoints: int = 8
    ot_weight: float = 1.0      # keypoint / binding-pocket optimal-transport loss
    clash_weight: float = 0.0   # intersection loss (EquiDock's "no clashes" variant uses it)
    pocket_cutoff: float = 8.0  # Å between Cα of the two partners
    spread: float = 30.0        # Å, standard deviation of the random translations of the inputs


@dataclass
class DockingRun(ProteinRun):
    task: str = "docking"
    docking: DockingConfig = field(default_factory=DockingConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(monitor="val/crmsd_median", mode="min"))


def protocol(cset: ComplexSet) -> Path | None:
    """EquiDock's test-protocol folder of the source, when it ships one."""
    folder = cset.source.root / "docking_test"
    return folder if (folder / "random_transformed").is_dir() and (folder / "complexes").is_dir() else None


def complex_pdb(receptor: Structure, ligand: Structure) -> str:
    """Receptor, then ligand, as one PDB text (the caller makes chain ids distinct)."""
    return structure_to_pdb(receptor).removesuffix("END\n") + "TER\n" + structure_to_pdb(ligand)


def _random_motion(cid: str) -> tuple[np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(zlib.crc32(cid.encode()))
    return random_rotation(g, torch.float64).numpy(), (torch.randn(3, generator=g, dtype=torch.float64) * 30).numpy()


def dock_and_score(model: DockingModel, cset: ComplexSet, ids: list[str], out: Path) -> list[dict]:
    """Dock each complex from its test inputs, write ``out/test_predictions/{ID}_{l,r}_b_INTERGRAPH.pdb``
    (receptor unchanged) and score against the truth; one row per complex."""
    folder = out / "test_predictions"
    folder.mkdir(parents=True, exist_ok=True)
    root = protocol(cset)
    rows = []
    for cid in ids:
        if root is not None:
            s = {role: read_structure(structure_file(root / "random_transformed", f"{cid}_{role}_b")) for role in "rl"}
            truth = {role: read_structure(structure_file(root / "complexes", f"{cid}_{role}_b_COMPLEX"))
                     for role in "rl"}
        else:
            truth = {role: cset.structure(cid, role, "b") for role in "rl"}
            s = {"r": truth["r"], "l": truth["l"].moved(*_random_motion(cid))}
        graphs = {role: featurize(s[role], cset.config, name=f"{cid}_{role}") for role in "rl"}
        if cset.plm is not None:
            for role in "rl":
                cset.attach_plm(cid, role, graphs[role])
        rot, trans = docked_pose(model, graphs["r"], graphs["l"], cid)
        docked = s["l"].moved(rot, trans)
        (folder / f"{cid}_r_b_INTERGRAPH.pdb").write_text(structure_to_pdb(s["r"]))
        (folder / f"{cid}_l_b_INTERGRAPH.pdb").write_text(structure_to_pdb(docked))
        rows.append({"item": cid, "inputs": "equidock" if root is not None else "random_motion",
                     **score_structures(docked, s["r"], truth["l"], truth["r"])})
    with open(out / "test_scores.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["complex"] + [k for k in rows[0] if k not in ("item", "inputs")])
        w.writeheader()
        w.writerows({"complex": r["item"], **{k: v for k, v in r.items() if k not in ("item", "inputs")}} for r in rows)
    write_items(rows, out / "items.csv")
    return rows


class DockingSpec(TaskSpec):
    name = "docking"
    description = "rigid-body docking of the ligand onto the receptor (EquiDock-style keypoints + Kabsch)"
    config = DockingRun
    columns = {"crmsd_median": True, "irmsd_median": True, "dockq_median": False, "crmsd_mean": True}
    gain = ItemGain("per-complex DockQ", ("dockq",))
    predict_help = "--receptor R --ligand L, or --pairs CSV: the docked complex per pair ({id}_docked.pdb)"

    def build_model(self, cfg, plm_dim):
        return DockingModel(build_encoder(cfg.model, plm_dim), keypoints=cfg.docking.keypoints,
                            dropout=cfg.model.dropout)

    def complexes(self, data) -> ComplexSet:
        if data.form != "b":
            raise InputError("docking trains on bound structures (form 'b'): the bound complex is the ground truth")
        return complex_set(data)

    def experiment(self, cfg, run_dir: Path, log) -> Experiment:
        cset = self.complexes(cfg.data)
        ids = select(cfg.data, cset, log=log)
        write_split(run_dir, ids)
        model = self.build_model(cfg, arms.dim(cset.plm) if cset.plm else None)
        counts = parameter_counts(model)
        d = cfg.docking
        sampler = EpochShuffle(len(ids["train"]), cfg.train.seed)
        train = DockingPairs([cset[i] for i in ids["train"]], cfg.train.seed, lambda: sampler.epoch, d.spread)
        val = DockingPairs([cset[i] for i in ids["val"]], 10_000 + cfg.train.seed, None, d.spread)
        task = DockingTask(d.ot_weight, d.clash_weight, d.pocket_cutoff)

        def evaluate(model) -> dict:
            with torch.no_grad():
                collected = [task.predictions(model(b), b) for b in DataLoader(val, cfg.train.batch_size,
                                                                               collate_fn=collate_pairs)]
            result = {"val": task.metrics({k: np.concatenate([c[k] for c in collected]) for k in collected[0]})}
            return {**result, **self._test(model, cset, ids["test"], run_dir)}

        return Experiment(TaskModule(model, task, cfg.train),
                          DataLoader(train, batch_size=cfg.train.batch_size, sampler=sampler, collate_fn=collate_pairs),
                          DataLoader(val, batch_size=cfg.train.batch_size, collate_fn=collate_pairs), evaluate, counts,
                          describe(cfg, counts, {k: len(v) for k, v in ids.items()}))

    def _test(self, model, cset: ComplexSet, ids: list[str], out: Path) -> dict:
        rows = dock_and_score(model, cset, ids, out)
        return {"test": {m: summarize(r[m] for r in rows) for m in SCORES}}

    def evaluate(self, trained, data, out: Path, log) -> dict:
        data = data or trained.cfg.data
        cset = self.complexes(data)
        return self._test(trained.model, cset, select(data, cset, log=log)["test"], out)

    def test_metrics(self, results: dict) -> dict[str, float]:
        t = results["test"]
        return {"crmsd_median": t["crmsd"]["median"], "irmsd_median": t["irmsd"]["median"],
                "dockq_median": t["dockq"]["median"], "crmsd_mean": t["crmsd"]["mean"]}

    def predict(self, models: list, inputs: PredictInputs, out: Path, log) -> list[Path]:
        if len(models) > 1:
            raise InputError("a k-fold docking run holds one model per fold: pass one fold's folder (RUN/foldK)")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for cid, rec, lig in inputs.pair_list():
            path = out / f"{cid}_docked.pdb"
            renamed = dock_files(models[0], rec, lig, path, inputs.rename_chains)["renamed_ligand_chains"]
            for old, new in renamed.items():
                log(f"{cid}: ligand chain {old} written as chain {new}")
            log(f"{cid} -> {path}")
            written.append(path)
        return written

    def pool(self, cfg, log=print) -> list[str]:
        return self.complexes(cfg.data).ids_with_embeddings()

    def figure(self, rows: list[dict], path: Path) -> Path:
        return plot_distributions(rows, path)

    def notes(self, rows: list[dict]) -> list[str]:
        return equidock_reference(rows)


def _free_chain_ids(taken: set[str], n: int) -> list[str]:
    pool = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" if c not in taken]
    if len(pool) < n:
        raise InputError(f"no {n} free one-letter chain ids left")
    return pool[:n]


def read_partners(receptor: str | Path, ligand: str | Path, rename_chains: bool = False):
    """Both structures and the ligand's chain renaming: partners sharing chain ids are refused unless
    ``rename_chains``, when the ligand's clashing chains get the first free letters."""
    s = {"r": read_structure(receptor), "l": read_structure(ligand)}
    shared = sorted({c.id for c in s["r"].chains()} & {c.id for c in s["l"].chains()})
    renamed = {}
    if shared:
        if not rename_chains:
            raise InputError(f"{receptor} and {ligand} share chain ids {', '.join(shared)}: the docked complex "
                             f"would be ambiguous; pass --rename-chains to give the ligand's chains free ids")
        taken = {str(c) for c in np.unique(np.concatenate([s["r"].res_chain, s["l"].res_chain]))}
        renamed = dict(zip(shared, _free_chain_ids(taken, len(shared))))
    return s["r"], s["l"], renamed


def _renamed(structure: Structure, renamed: dict[str, str]) -> Structure:
    if not renamed:
        return structure
    chains = np.array([renamed.get(str(c), str(c)) for c in structure.res_chain])
    return dataclasses.replace(structure, res_chain=chains)


def dock_files(model, receptor: str | Path, ligand: str | Path, out: str | Path,
               rename_chains: bool = False) -> dict:
    """Dock ``ligand`` onto ``receptor`` with a trained model (:class:`run.Trained`); write the complex (receptor
    unchanged) to ``out``. Chain ids as :func:`read_partners`; the renaming is returned."""
    cfg, net = model.cfg, model.model
    rec, lig, renamed = read_partners(receptor, ligand, rename_chains)
    graphs = {role: featurize(st, name=str(path)) for role, st, path in (("r", rec, receptor), ("l", lig, ligand))}
    source = plm_source(cfg.data)
    if source is not None:
        arms.attach_by_sequence(cfg.data.plm, source, list(graphs.values()))
    rot, trans = docked_pose(net, graphs["r"], graphs["l"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(complex_pdb(rec, _renamed(lig.moved(rot, trans), renamed)))
    return {"rotation": rot.tolist(), "translation": trans.tolist(), "renamed_ligand_chains": renamed}


def search_files(receptor: str | Path, ligand: str | Path, out: str | Path, cfg: SearchConfig | None = None,
                 arm: str = DEFAULT_ARM, top: int = 10, rename_chains: bool = False, device=None,
                 progress: bool = True, interface: str | Path | list | None = None,
                 qa: str | Path | list | None = None) -> dict:
    """Dock ``ligand`` onto ``receptor`` by global FFT search (:mod:`search`) with the shipped potential and the
    term weights of ``arm`` (chosen on DB5.5 training / validation complexes), the interface terms (restraint,
    coupling) from the probabilities of the ``interface`` run (a folder, or its loaded models; an arm that weights
    them needs one); with a ``qa`` run (a folder or its loaded models), the ranked cluster heads are re-ranked by its
    predicted DockQ. Writes ``out/rank01.pdb`` …
    (receptor unchanged, then the moved ligand), ``out/poses.csv`` (rank, score, cluster size, predicted DockQ
    with ``qa``, file, motion of the input ligand) and ``out/search.json`` (settings, weights, time)."""
    import json
    import time

    cfg = cfg or SearchConfig()
    weights = fitted_weights(arm)
    if uses_interface(weights) and interface is None:
        raise InputError(f"arm {arm!r} scores interface restraints: give an interface run (--model)")
    rec, lig, renamed = read_partners(receptor, ligand, rename_chains)
    probs = restraints.predicted(interface, rec, lig) if interface is not None else (None, None)
    t0 = time.perf_counter()
    placements = dock_structures(Body.from_structure(rec, probs[0]), Body.from_structure(lig, probs[1]),
                                 {arm: weights}, cfg,
                                 potential.read(), top=top, device=device,
                                 label="rotations" if progress else None)[arm]
    qa_models = None
    if qa is not None:
        from ...run import load_models
        from ..quality.run import reranked

        qa_models = load_models(qa) if isinstance(qa, (str, Path)) else qa
        placements, predicted = reranked(qa_models, rec, lig, placements)
    seconds = time.perf_counter() - t0
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in placements:
        name = f"rank{p.rank:02d}.pdb"
        moved = lig.moved(p.rotation.numpy(), p.translation.numpy())
        (out / name).write_text(complex_pdb(rec, _renamed(moved, renamed)))
        qa_cell = {} if qa_models is None else {"predicted_dockq": round(float(predicted[p.rank - 1]), 4)}
        rows.append({"rank": p.rank, "score": round(p.score, 4), "cluster_size": p.cluster_size, **qa_cell,
                     "file": name,
                     "rotation": " ".join(f"{v:.6f}" for v in p.rotation.flatten().tolist()),
                     "translation": " ".join(f"{v:.4f}" for v in p.translation.tolist())})
    with open(out / "poses.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "search.json").write_text(json.dumps({
        "receptor": str(receptor), "ligand": str(ligand), "arm": arm, "weights": weights,
        "interface": None if interface is None else
        str(interface[0].folder) if isinstance(interface, list) else str(interface),
        "qa": None if qa is None else str(qa[0].folder) if isinstance(qa, list) else str(qa),
        "search": dataclasses.asdict(cfg), "seconds": round(seconds, 1), "renamed_ligand_chains": renamed},
        indent=2) + "\n")
    return {"poses": rows, "seconds": seconds, "renamed_ligand_chains": renamed}


# --- comparison figures and references ---------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def equidock_scores() -> dict[str, dict]:
    """EquiDock's shipped DB5 test predictions scored per complex (once per process: table and figure share it)."""
    from ...db5 import protocol_root
    from ...docking_metrics import score_folder

    root = protocol_root()
    return {r["complex"]: r for r in score_folder(root / "baselines" / "equidock", root / "complexes")[0]}


def equidock_reference(rows: list[dict]) -> list[str]:
    """EquiDock's shipped predictions scored on the complexes the runs were tested on with EquiDock's protocol
    inputs (the published medians, 14.14 / 11.97 Å, are over all 25 DB5 test complexes)."""
    ids = sorted({i["item"] for r in rows for i in read_items(Path(r["run"]) / "items.csv")
                  if i.get("inputs") == "equidock"})
    if not ids:
        return []
    scored = equidock_scores()
    got = [scored[i] for i in ids if i in scored]
    if not got:
        return []
    s = {m: summarize(g[m] for g in got)["median"] for m in ("crmsd", "irmsd", "dockq")}
    return ["| reference on the same test complexes | complexes | crmsd_median | irmsd_median | dockq_median |",
            "|---|---|---|---|---|",
            f"| EquiDock (shipped predictions) | {len(got)} | {s['crmsd']:.2f} | {s['irmsd']:.2f} | {s['dockq']:.3f} |"]


def plot_distributions(rows: list[dict], path: Path) -> Path:
    """CRMSD and IRMSD distributions (CDF) of each arm's first seed, EquiDock's shipped predictions on the same
    complexes where they exist."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        if int(r["seed"]) == min(int(x["seed"]) for x in rows):
            first.setdefault((r["encoder"], r["plm"]), []).append(r)
    reference = {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ids: list[str] = []
    for (enc, arm), rs in first.items():
        items = [i for r in rs for i in read_items(Path(r["run"]) / "items.csv")]
        ids = [i["item"] for i in items]
        if not reference and any(i.get("inputs") == "equidock" for i in items):
            reference = equidock_scores()
        for ax, m in zip(axes, ("crmsd", "irmsd")):
            _cdf(ax, [float(i[m]) for i in items], f"{enc} + PLM {arm}")
    for ax, m in zip(axes, ("crmsd", "irmsd")):
        ref = [reference[c][m] for c in ids if c in reference]
        if ref:
            _cdf(ax, ref, "EquiDock (shipped)", "k--")
        ax.set(xlabel=f"{m.upper()} (Å)", ylabel="fraction of test complexes", title=f"{len(ids)} test complexes")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _cdf(ax, values: list[float], label: str, style: str = "-") -> None:
    v = np.sort(values)
    ax.step(v, np.arange(1, len(v) + 1) / max(len(v), 1), style, where="post",
            label=f"{label} (median {np.median(v):.2f})" if len(v) else label)
