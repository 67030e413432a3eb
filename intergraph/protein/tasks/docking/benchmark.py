"""The docking-search benchmark on DB5.5 complexes (the test split by default; the validation split for
choices): EquiDock's protocol inputs (bound partners, randomly moved) or the unbound structures, every arm's
ranked poses scored against the bound complex with the CAPRI measures, the shipped methods' predictions on the
same complexes beside them.

Each weight arm is ranked two ways from the same search: as ``SearchConfig.rank_by`` says (the arm's name;
by best score unless asked otherwise) and the other way ("ARM, by size" as ClusPro, or "ARM, by score"). Success
at top N: a pose with DockQ ≥ 0.23 (acceptable) / ≥ 0.49 (medium) among the N best-ranked. Intervals are 95 %
percentile bootstraps over complexes (paired for differences between arms). Resumable: one CSV per complex under
``out/items/``, reused only when ``out/config.json`` is the configuration asked for.
"""
from __future__ import annotations

import csv
import dataclasses
import time
from pathlib import Path

import numpy as np

from ....errors import InputError
from ....terminal import progress_bar
from ....train.config import claim_results_dir
from ...db5 import protocol_root
from ...docking_metrics import capri, find_structure, score_folder, score_structures, structure_file
from ...io import read_structure
from . import potential, restraints
from .grids import Body, uses_interface
from .search import SearchConfig, dock_structures, fitted_weights

FIELDS = ("complex", "arm", "rank", "score", "cluster_size", "dockq", "fnat", "irmsd", "lrmsd", "crmsd", "seconds")
SHIPPED = ("cluspro", "hdock", "attract", "patchdock", "equidock", "equidock_no_clashes")


def inputs_of(cid: str, inputs: str, db5_root: Path) -> tuple[Path, Path, Path, Path]:
    """(receptor, ligand, true receptor, true ligand) files of one complex. A complex of EquiDock's test protocol
    has its moved bound partners and its complex files; any other DB5.5 complex (the validation split, for
    choices made before the test) gives its bound files as both inputs and truth: the search works in the
    bodies' principal frames, so the input pose changes nothing."""
    protocol = db5_root / "docking_test"
    structures = db5_root / "structures"
    in_protocol = find_structure(protocol / "random_transformed", f"{cid}_l_b") is not None
    if in_protocol:
        truth = [structure_file(protocol / "complexes", f"{cid}_{r}_b_COMPLEX") for r in "rl"]
    else:
        truth = [structure_file(structures, f"{cid}_{r}_b") for r in "rl"]
    if inputs == "bound":
        given = [structure_file(protocol / "random_transformed", f"{cid}_{r}_b") for r in "rl"] if in_protocol \
            else truth
    elif inputs == "unbound":
        given = [structure_file(structures, f"{cid}_{r}_u") for r in "rl"]
    else:
        raise InputError(f"inputs must be bound or unbound, not {inputs!r}")
    return given[0], given[1], truth[0], truth[1]


def run_benchmark(ids: list[str], arms: list[str], cfg: SearchConfig, out: Path, inputs: str = "bound",
                  top: int = 10, db5_root: Path | None = None, overwrite: bool = False,
                  interface: str = "none", qa: str = "none") -> tuple[list[dict], list]:
    """Dock every complex with every arm; rows of :data:`FIELDS` (one per arm and rank) and the skipped
    (complex, reason). ``interface``: where the interface terms' probabilities come from: ``none``, an interface
    run folder (predictions on the inputs), or ``truth`` (the observed interface: an oracle; bound inputs only).
    ``qa``: a quality-assessment run folder; every ranking gets a copy re-ranked by its predicted DockQ
    ("RANKING + QA")."""
    db5_root = db5_root or protocol_root().parent
    weights = {a: fitted_weights(a) for a in arms}
    if interface == "none" and any(uses_interface(w) for w in weights.values()):
        raise InputError("an arm with interface terms (restraint, coupling) needs --interface: an interface run "
                         "folder, or truth")
    if interface == "truth" and inputs != "bound":
        raise InputError("--interface truth (the observed interface) is defined for the bound inputs only")
    source = restraint_source(interface)
    qa_models = None
    if qa != "none":
        from ...run import load_models

        qa_models = load_models(qa)
        if qa_models[0].cfg.task != "qa":
            raise InputError(f"{qa}: a {qa_models[0].cfg.task} run; --qa needs a quality-assessment run")
    config = {"ids": ids, "arms": weights, "inputs": inputs, "top": top, "search": dataclasses.asdict(cfg),
              "interface": source["description"]}
    if qa_models is not None:
        c = qa_models[0].cfg
        config["qa"] = {"run": str(qa), "task": c.task, "encoder": c.model.encoder, "plm": c.data.plm,
                        "models": len(qa_models)}
    claim_results_dir(out, config, "a benchmark", overwrite)
    items = out / "items"
    items.mkdir(exist_ok=True)
    rows, skipped = [], []
    table = potential.read()
    with progress_bar() as bar:
        task = bar.add_task("complexes", total=len(ids))
        for cid in ids:
            path = items / f"{cid}.csv"
            if path.exists() and not overwrite:
                rows.extend(_read(path))
                bar.advance(task)
                continue
            try:
                got = _dock_one(cid, weights, cfg, inputs, top, db5_root, table, source["probabilities"], qa_models)
            except (InputError, ValueError, OSError) as e:
                skipped.append((cid, str(e)))
                bar.advance(task)
                continue
            with open(path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=FIELDS)
                w.writeheader()
                w.writerows(got)
            rows.extend(got)
            bar.advance(task)
    return rows, skipped


def _read(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: (v if k in ("complex", "arm") else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]


def restraint_source(interface: str) -> dict:
    """``description`` (for the config: the run's folder and settings) and ``probabilities``: (receptor, ligand,
    true receptor, true ligand) → per-body probabilities (None, None without restraints)."""
    if interface == "none":
        return {"description": "none", "probabilities": lambda *s: (None, None)}
    if interface == "truth":
        return {"description": "truth (observed interface of the bound complex; oracle)",
                "probabilities": lambda r, l, tr, tl: restraints.observed(tr, tl)}
    from ...run import load_models

    models = load_models(interface)
    c = models[0].cfg
    return {"description": {"run": str(interface), "task": c.task, "encoder": c.model.encoder, "plm": c.data.plm,
                            "models": len(models)},
            "probabilities": lambda r, l, tr, tl: restraints.predicted(models, r, l)}


def _dock_one(cid, weights, cfg, inputs, top, db5_root, table, probabilities, qa_models=None) -> list[dict]:
    rec_f, lig_f, rec_t, lig_t = inputs_of(cid, inputs, db5_root)
    rec, lig = read_structure(rec_f), read_structure(lig_f)
    truth_r, truth_l = read_structure(rec_t), read_structure(lig_t)
    p_r, p_l = probabilities(rec, lig, truth_r, truth_l)
    t0 = time.perf_counter()
    placed = dock_structures(Body.from_structure(rec, p_r), Body.from_structure(lig, p_l), weights, cfg, table,
                             top=top, rankings=("size", "score"))
    if qa_models is not None:
        from ..quality.run import reranked

        for name, poses in list(placed.items()):
            placed[f"{name} + QA"] = reranked(qa_models, rec, lig, poses)[0]
    seconds = time.perf_counter() - t0
    rows = []
    for arm, poses in placed.items():
        for p in poses:
            moved = lig.moved(p.rotation.numpy(), p.translation.numpy())
            if inputs == "bound":
                s = score_structures(moved, rec, truth_l, truth_r)
                m = {"dockq": s["dockq"], "fnat": s["fnat"], "irmsd": s["dockq_irmsd"], "lrmsd": s["dockq_lrmsd"],
                     "crmsd": s["crmsd"]}
            else:
                c = capri(moved, rec, truth_l, truth_r)
                m = {"dockq": c["dockq"], "fnat": c["fnat"], "irmsd": c["irmsd"], "lrmsd": c["lrmsd"],
                     "crmsd": float("nan")}
            rows.append({"complex": cid, "arm": arm, "rank": p.rank, "score": p.score,
                         "cluster_size": p.cluster_size, **m, "seconds": seconds})
    return rows


def success_table(rows: list[dict], ns=(1, 5, 10), thresholds=(0.23, 0.49)) -> dict[str, dict]:
    """Per arm: success rate at top N for each DockQ threshold with its bootstrap interval, top-1 medians."""
    from ....train.metrics import bootstrap_mean

    out = {}
    for arm in dict.fromkeys(r["arm"] for r in rows):
        per = _per_complex(rows, arm)
        summary = {"complexes": len(per)}
        for t in thresholds:
            for n in ns:
                hit = np.array([float(any(r["dockq"] >= t for r in ranked[:n])) for ranked in per.values()])
                mean, lo, hi = bootstrap_mean(hit)
                summary[f"success@{n}_{t}"] = {"rate": mean, "ci": [lo, hi]}
        firsts = [ranked[0] for ranked in per.values()]
        for m in ("dockq", "irmsd", "lrmsd", "crmsd"):
            summary[f"top1_{m}_median"] = float(np.nanmedian([r[m] for r in firsts]))
        summary["seconds_median"] = float(np.median([r["seconds"] for r in firsts]))
        out[arm] = summary
    return out


def _per_complex(rows: list[dict], arm: str) -> dict[str, list[dict]]:
    per: dict[str, list[dict]] = {}
    for r in rows:
        if r["arm"] == arm:
            per.setdefault(r["complex"], []).append(r)
    return {c: sorted(v, key=lambda r: r["rank"]) for c, v in per.items()}


def paired_success(rows: list[dict], arm: str, base: str, n: int = 1, threshold: float = 0.23,
                   resamples: int = 2000, seed: int = 0) -> dict:
    """Difference of success at top ``n`` (arm − base) over the complexes both hold, with its paired bootstrap."""
    a, b = _per_complex(rows, arm), _per_complex(rows, base)
    common = sorted(set(a) & set(b))
    diff = np.array([float(any(r["dockq"] >= threshold for r in a[c][:n])) -
                     float(any(r["dockq"] >= threshold for r in b[c][:n])) for c in common])
    means = np.random.default_rng(seed).choice(diff, size=(resamples, len(diff))).mean(1)
    return {"arm": arm, "base": base, "n": n, "threshold": threshold, "complexes": len(common),
            "difference": float(diff.mean()),
            "ci": [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]}


def shipped_rows(ids: list[str], db5_root: Path | None = None) -> list[dict]:
    """The shipped methods' single predictions on the same complexes, as rank-1 rows."""
    root = (db5_root or protocol_root().parent) / "docking_test"
    rows = []
    for method in SHIPPED:
        scored, _ = score_folder(root / "baselines" / method, root / "complexes")
        for r in scored:
            if r["complex"] in ids:
                rows.append({"complex": r["complex"], "arm": method, "rank": 1, "score": float("nan"),
                             "cluster_size": float("nan"), "dockq": r["dockq"], "fnat": r["fnat"],
                             "irmsd": r["dockq_irmsd"], "lrmsd": r["dockq_lrmsd"], "crmsd": r["crmsd"],
                             "seconds": float("nan")})
    return rows


def plot_success(rows: list[dict], path: Path, threshold: float = 0.23, max_n: int = 10) -> Path:
    """Success rate (DockQ ≥ threshold among the top N) against N for every arm; shipped methods as points at 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for arm in dict.fromkeys(r["arm"] for r in rows):
        per = _per_complex(rows, arm)
        ns = list(range(1, max_n + 1))
        rates = [np.mean([any(r["dockq"] >= threshold for r in v[:n]) for v in per.values()]) for n in ns]
        if all(len(v) == 1 for v in per.values()):
            ax.plot([1], rates[:1], "o", label=f"{arm} (shipped, 1 pose)")
        else:
            ax.plot(ns, rates, "-o", ms=3, label=arm)
    ax.set(xlabel="top N poses", ylabel=f"complexes with DockQ ≥ {threshold}", ylim=(0, 1),
           title=f"{len({r['complex'] for r in rows})} DB5.5 complexes")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
