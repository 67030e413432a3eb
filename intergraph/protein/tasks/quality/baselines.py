"""Reference-free baselines that rank the docked models of one target (higher score = predicted better), for
decoys that are rigid poses (R, t) of the bound ligand against the bound receptor:

- search score: the docking search's own score of the pose (search decoys only);
- residue contacts: residue pairs across the interface with heavy atoms within 5 Å;
- buried surface area: SASA(receptor) + SASA(ligand) − SASA(complex), Shrake–Rupley (biotite; ProtOr radii,
  1.4 Å probe) over the amino acids' heavy atoms. Only atoms within 10 Å of the partner can lose area (two radii
  and two probe radii are under 8 Å), so both terms are computed for those alone, every atom occluding;
- random order (seeded by the seed and the target's name).

Shapes: one score per decoy, in the order given.
"""
from __future__ import annotations

import csv
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from ....train.compare import bootstrap_gain, fmt, spreads
from ....train.metrics import bootstrap_mean
from ...structure import Structure
from .decoys import Decoy

NAMES = ("search score", "residue contacts", "buried surface area", "random order")
CONTACT = 5.0   # Å between heavy atoms: a residue contact
NEAR = 10.0     # Å to the partner: atoms whose area can change


class PoseScorer:
    """Interface descriptors of ligand poses against a fixed receptor (amino-acid heavy atoms of both)."""

    def __init__(self, receptor: Structure, ligand: Structure, points: int = 200):
        self.points = points
        self.rec, self.lig = (_heavy(s) for s in (receptor, ligand))
        self.rec_tree = cKDTree(self.rec["coord"])
        self.receptor_alone = _sasa(self.rec, np.ones(len(self.rec["coord"]), bool), points)

    def contacts(self, rotation: np.ndarray, translation: np.ndarray) -> int:
        lig = self.lig["coord"] @ np.asarray(rotation).T + translation
        pairs = cKDTree(lig).sparse_distance_matrix(self.rec_tree, CONTACT, output_type="ndarray")
        if len(pairs) == 0:
            return 0
        return len({(int(a), int(b)) for a, b in zip(self.lig["residue"][pairs["i"]], self.rec["residue"][pairs["j"]])})

    def buried_area(self, rotation: np.ndarray, translation: np.ndarray) -> float:
        lig = self.lig["coord"] @ np.asarray(rotation).T + translation
        near_r = np.isfinite(cKDTree(lig).query(self.rec["coord"], distance_upper_bound=NEAR)[0])
        near_l = np.isfinite(self.rec_tree.query(lig, distance_upper_bound=NEAR)[0])
        if not near_r.any():
            return 0.0
        both = {k: np.concatenate([self.rec[k], self.lig[k]]) for k in ("res_name", "atom_name", "element", "radius")}
        both["coord"] = np.concatenate([self.rec["coord"], lig])
        near = np.concatenate([near_r, near_l])
        together = _sasa(both, near, self.points)
        # the ligand alone where it stands: the sphere points are fixed in space, so its area moves a little
        # with its rotation, and both terms must sample it the same way
        ligand_alone = _sasa({**self.lig, "coord": lig}, near_l, self.points)
        alone = np.concatenate([self.receptor_alone, ligand_alone])
        return float((alone[near] - together[near]).sum())


def _heavy(s: Structure) -> dict:
    from biotite.structure.info import vdw_radius_protor, vdw_radius_single

    res = s.atom_residue
    keep = s.res_polymer[res] & (s.element != "H") & (s.element != "D")
    out = {"coord": s.coord[keep].astype(np.float64), "residue": res[keep], "res_name": s.res_name[res[keep]],
           "atom_name": s.atom_name[keep], "element": s.element[keep]}
    radii = []
    for rn, an, el in zip(out["res_name"], out["atom_name"], out["element"]):
        r = vdw_radius_protor(str(rn), str(an)) or vdw_radius_single(str(el)) or 1.8
        radii.append(r)
    out["radius"] = np.array(radii, dtype=np.float64)
    return out


def _sasa(atoms: dict, where: np.ndarray, points: int) -> np.ndarray:
    """Per-atom SASA (Å²) of ``where`` atoms (others 0), every atom occluding."""
    import biotite.structure as bs

    arr = bs.AtomArray(len(atoms["coord"]))
    arr.coord = atoms["coord"].astype(np.float32)
    arr.res_name, arr.atom_name, arr.element = atoms["res_name"], atoms["atom_name"], atoms["element"]
    area = bs.sasa(arr, atom_filter=where, ignore_ions=False, point_number=points, vdw_radii=atoms["radius"])
    return np.nan_to_num(area, nan=0.0)


def baseline_scores(decoys: list[Decoy], receptor: Structure, ligand: Structure, seed: int = 0) -> dict:
    """name -> (D,) scores of one target's decoys (the search score is NaN for decoys the search did not make)."""
    scorer = PoseScorer(receptor, ligand)
    target = decoys[0].target if decoys else ""
    rng = np.random.default_rng([seed, zlib.crc32(target.encode())])
    return {"search score": np.array([d.score for d in decoys]),
            "residue contacts": np.array([scorer.contacts(d.rotation, d.translation) for d in decoys], float),
            "buried surface area": np.array([scorer.buried_area(d.rotation, d.translation) for d in decoys]),
            "random order": rng.random(len(decoys))}


def ranker_items(decoys: dict[str, list[Decoy]], scores: dict[str, dict[str, np.ndarray]],
                 name: str) -> dict[str, dict]:
    """Per target (those whose scores by ``name`` are all finite): :func:`run.target_items` of ranking its decoys
    by ``name``."""
    from .run import target_items

    return {t: target_items({"target": np.array([t] * len(decoys[t])), "pred_dockq": scores[t][name],
                             "dockq": np.array([d.labels["dockq"] for d in decoys[t]])})[0]
            for t in sorted(decoys) if t in scores and name in scores[t] and np.isfinite(scores[t][name]).all()}


def _cell(values, sign: str = "") -> str:
    """Mean [95 % bootstrap interval] of ``values`` (NaN dropped); ``sign`` "+" writes differences signed."""
    mean, low, high = bootstrap_mean(np.asarray(values, dtype=np.float64))
    f = f"{sign}.3f"
    return f"{mean:{f}} [{low:{f}}, {high:{f}}]" if np.isfinite(mean) else "–"


def baseline_table(decoys: dict[str, list[Decoy]], scores: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """Markdown rows per ranker over the targets: per-target Spearman, top-1 DockQ, loss (best − top-1 DockQ),
    success at top 1 / 5 / 10 (over the targets with an acceptable decoy), each the mean with its 95 % bootstrap
    interval over targets. ``scores``: target -> name -> scores (:func:`baseline_scores`, or any ranker's)."""
    targets = sorted(t for t in decoys if t in scores)
    keys = ("spearman", "top1_dockq", "loss", "success@1", "success@5", "success@10")
    lines = [f"| ranker ({len(targets)} targets) | per-target Spearman | top-1 DockQ | loss | success@1 | "
             "success@5 | success@10 |", "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(n for t in targets for n in scores[t]):
        items = list(ranker_items(decoys, scores, name).values())
        if items:
            lines.append(f"| {name} ({len(items)}) | " + " | ".join(_cell([i[k] for i in items]) for k in keys) + " |")
    return lines


def paired_table(decoys: dict[str, list[Decoy]], scores: dict[str, dict[str, np.ndarray]],
                 pairs: list[tuple[str, str]], keys=("spearman", "top1_dockq", "success@1", "success@10")) -> list[str]:
    """Markdown rows of paired differences A − B over the targets both rank: the mean per-target difference of
    each of ``keys`` with its 95 % bootstrap interval over targets (success: the targets with an acceptable
    decoy)."""
    lines = ["| A − B (targets) | " + " | ".join(f"Δ {k}" for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for a, b in pairs:
        ia, ib = ranker_items(decoys, scores, a), ranker_items(decoys, scores, b)
        both = [t for t in ia if t in ib]
        lines.append(f"| {a} − {b} ({len(both)}) | "
                     + " | ".join(_cell([ia[t][k] - ib[t][k] for t in both], "+") for k in keys) + " |")
    return lines


def seed_table(decoys: dict[str, list[Decoy]], scores: dict[str, dict[str, np.ndarray]],
               arms: dict[str, dict[int, str]], reference: str = "search score",
               keys=("spearman", "top1_dockq", "success@1", "success@10")) -> list[str]:
    """Markdown rows of rankers trained with several seeds. ``arms``: arm -> seed -> the ranker's name in
    ``scores``. Each of ``keys`` per arm: m ± s [low, high], with m the mean over seeds of the mean over targets,
    s the (population) sd over seeds of that mean, and the 95 % bootstrap interval over targets of the seed-mean
    (:func:`train.compare.bootstrap_gain`); then each arm minus ``reference`` (one ranker, the same for every
    seed) and minus the first arm, per target averaged over the seeds both sides have (seed paired with seed), with
    the interval (the targets every ranker ranks; success over those with an acceptable decoy)."""
    items = {arm: {s: ranker_items(decoys, scores, name) for s, name in by.items()} for arm, by in arms.items()}
    ref = ranker_items(decoys, scores, reference)

    def values(per_seed: dict[int, dict[str, dict]], key: str) -> dict[int, dict[str, float]]:
        return {s: {t: row[key] for t, row in rows.items()} for s, rows in per_seed.items()}

    lines = ["| arm (seeds, targets) | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for arm, per_seed in items.items():
        cells = []
        for k in keys:
            v = values(per_seed, k)
            sp = spreads([{"seed": s, "fold": 0, k: float(np.nanmean(list(vs.values())))} for s, vs in v.items()], k)
            b = bootstrap_gain(v, None)
            cells.append(f"{fmt(sp['mean'])} ± {fmt(sp['sd_seeds'])} [{fmt(b['low'])}, {fmt(b['high'])}]")
        targets = len(set.intersection(*(set(rows) for rows in per_seed.values())))
        lines.append(f"| {arm} ({len(per_seed)}, {targets}) | " + " | ".join(cells) + " |")
    first = next(iter(items), None)
    lines += ["", "| A − B, per target, mean over seeds (targets) | " + " | ".join(f"Δ {k}" for k in keys) + " |",
              "|---" * (len(keys) + 1) + "|"]
    for arm, per_seed in items.items():
        others = [(reference, {s: ref for s in per_seed})] + ([(first, items[first])] if arm != first else [])
        for name, base in others:
            cells, n = [], 0
            for k in keys:
                b = bootstrap_gain(values(per_seed, k), values(base, k))
                n = max(n, b["items"])
                cells.append(f"{fmt(b['gain'], signed=True)} [{fmt(b['low'], signed=True)}, "
                             f"{fmt(b['high'], signed=True)}]")
            lines.append(f"| {arm} − {name} ({n}) | " + " | ".join(cells) + " |")
    return lines


#: weights w of the search score in a fused ranking z(QA) + w z(search score), chosen on validation targets
FUSION_WEIGHTS = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0)


def fused(predicted: np.ndarray, score: np.ndarray, w: float) -> np.ndarray:
    """z(predicted) + w z(score) over one target's decoys, z(x) = (x − mean) / sd (0 for a constant x).
    Shapes: (n,), (n,) -> (n,)."""
    def z(x):
        x = np.asarray(x, dtype=np.float64)
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
    return z(predicted) + w * z(score)


def fusion_weight(decoys: dict[str, list[Decoy]], predicted: dict[str, float], weights=FUSION_WEIGHTS,
                  key: str = "spearman") -> tuple[float, dict[float, float]]:
    """The weight w of :func:`fused` with the best mean per-target ``key`` over ``decoys`` (target -> its decoys,
    validation targets; ``predicted``: decoy -> QA prediction, search score from each decoy), the smallest on
    ties; with the mean per weight."""
    means = {}
    for w in weights:
        scores = {t: {"fused": fused([predicted[d.decoy] for d in ds], [d.score for d in ds], w)}
                  for t, ds in decoys.items()}
        means[w] = float(np.nanmean([row[key] for row in ranker_items(decoys, scores, "fused").values()]))
    return max(means, key=lambda w: (means[w], -w)), means


def stored_scores(path: Path, decoys: list[Decoy], partners: Callable[[], tuple[Structure, Structure]],
                  seed: int = 0) -> dict[str, np.ndarray]:
    """:func:`baseline_scores` of one target's decoys, kept in ``path`` (CSV: decoy, one column per baseline) and
    read back when it holds exactly these decoys. ``partners``: a loader of the bound (receptor, ligand)."""
    names = [d.decoy for d in decoys]
    if path.exists():
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if [r["decoy"] for r in rows] == names and all(n in rows[0] for n in NAMES):
            return {n: np.array([float(r[n]) for r in rows]) for n in NAMES}
    scores = baseline_scores(decoys, *partners(), seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["decoy", *NAMES])
        w.writerows([name, *(f"{scores[n][k]:.6g}" for n in NAMES)] for k, name in enumerate(names))
    return scores


def folder_baselines(decoys: dict[str, list[Decoy]], partners: dict[str, Callable], folder: Path,
                     progress: bool = True) -> list[str]:
    """The baselines of every target's decoys (kept under ``folder/baselines/``) and their table
    (:func:`baseline_table`)."""
    from ....terminal import progress_bar

    scores = {}
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("baselines", total=len(decoys))
        for cid, ds in decoys.items():
            scores[cid] = stored_scores(Path(folder) / "baselines" / f"{cid}.csv", ds, partners[cid])
            bar.advance(task)
    return baseline_table(decoys, scores)
