"""Reference-free baselines that rank the models of one target (higher score = predicted better):

- coverage: the number of modelled residues with a Cα (a model that leaves residues out loses them all);
- compactness: −Rg / (2.2 N^0.38), the radius of gyration of the Cα over that expected of a globular chain of
  N residues;
- consensus: the mean TM-score of a model against the other models of its target (at most 10, drawn at random;
  residues paired by number, normalised by the other model's length), the classical strong MQA baseline (Pcons,
  ModFOLDclust);
- random order (seeded by the seed and the target's name).

Shapes: one score per model, in the order of the set's models.
"""
from __future__ import annotations

import zlib

import numpy as np

from ....errors import InputError
from ....train.metrics import bootstrap_mean, ranking_metrics
from ...io import read_structure
from ...model_scores import _ca_residues, pair_residues, tm_score
from ...structure import Structure
from .data import ModelSet


def coverage(s: Structure) -> float:
    return float(len(_ca_residues(s)[0]))


def compactness(s: Structure) -> float:
    xyz = _ca_residues(s)[1]
    rg = np.sqrt(((xyz - xyz.mean(0)) ** 2).sum(1).mean())
    return float(-rg / (2.2 * len(xyz) ** 0.38))


def consensus(structures: list[Structure], partners: int = 10, seed: int = 0, on_pair=None) -> np.ndarray:
    """(M,) mean TM-score of each model against the others, or against ``partners`` of them drawn at random
    (seeded) where the target has more (the mean of a random sample of the same pairs)."""
    m = len(structures)
    rng = np.random.default_rng(seed)
    out = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        if len(others) > partners:
            others = sorted(rng.choice(others, size=partners, replace=False).tolist())
        values = []
        for j in others:
            try:
                values.append(tm_score(pair_residues(structures[i], structures[j], "number")))
            except InputError:  # fewer than 3 residues in common: no support from that model
                values.append(0.0)
            if on_pair:
                on_pair()
        out[i] = np.mean(values) if values else 0.0
    return out


def baseline_scores(model_set: ModelSet, seed: int = 0, on_pair=None) -> dict[str, np.ndarray]:
    """Every baseline's scores of the set's models (an unreadable file raises, naming it)."""
    structures = [read_structure(m.path) for m in model_set.models]
    rng = np.random.default_rng([seed, zlib.crc32(model_set.target.encode())])  # its own draw per target
    return {"coverage": np.array([coverage(s) for s in structures]),
            "compactness": np.array([compactness(s) for s in structures]),
            "consensus (mean TM-score to the other models)": consensus(structures, seed=seed, on_pair=on_pair),
            "random order": rng.random(len(structures))}


def baseline_table(sets: dict[str, ModelSet], scores: dict[str, dict[str, np.ndarray]], many: int = 20) -> list[str]:
    """Markdown rows per baseline: per-target Spearman and top-1 GDT_TS loss (mean [95 % bootstrap interval over
    targets]) on all targets and on those with at least ``many`` models, global Spearman and Pearson.
    ``scores``: target -> baseline -> scores (as from :func:`baseline_scores`)."""
    names = list(next(iter(scores.values())))
    targets = [t for t in sets if t in scores]
    truth = np.concatenate([[m.gdt_ts for m in sets[t].models] for t in targets])
    groups = np.concatenate([[t] * len(sets[t].models) for t in targets])
    big = {t for t in targets if len(sets[t].models) >= many}
    lines = [f"| baseline | per-target Spearman, all {len(targets)} targets | top-1 GDT_TS loss, all | per-target "
             f"Spearman, the {len(big)} targets with ≥ {many} models | top-1 loss, those | global Spearman | "
             "global Pearson |", "|---|---|---|---|---|---|---|"]
    for name in names:
        pred = np.concatenate([scores[t][name] for t in targets])
        r = ranking_metrics(pred, truth, groups)
        cells = []
        for keep in (set(targets), big):
            per = [v for t, v in r["per_group"].items() if t in keep]
            for k in (0, 1):
                mean, low, high = bootstrap_mean(np.array([v[k] for v in per]))
                # undefined where every model of every target scores the same
                cells.append(f"{mean:.3f} [{low:.3f}, {high:.3f}]" if np.isfinite(mean) else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['spearman']:.3f} | {r['pearson']:.3f} |")
    return lines
