"""The held-out targets without a native (``chain_quality.extra``): every fold model of a run predicts them; the
run's prediction of a model is the mean over its fold models (an ensemble of k networks, none of which saw these
targets). Per target: Spearman ρ between predicted and official GDT_TS and the top-1 loss (best − chosen)."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from ....train.metrics import ranking_metrics

PREDICTIONS = "predictions_extra.csv"


def ensemble(folders: list[Path]) -> dict[tuple[str, str], tuple[float, float]]:
    """(target, model) -> (mean predicted GDT_TS over the folders' models, true GDT_TS)."""
    pred, truth = defaultdict(list), {}
    for folder in folders:
        with open(folder / PREDICTIONS, newline="") as f:
            for r in csv.DictReader(f):
                key = (r["target"], r["model"])
                pred[key].append(float(r["predicted_gdt_ts"]))
                truth[key] = float(r["gdt_ts"])
    return {k: (float(np.mean(v)), truth[k]) for k, v in pred.items()}


def per_target(scored: dict[tuple[str, str], tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """target -> (Spearman ρ, top-1 loss)."""
    keys = sorted(scored)
    r = ranking_metrics(np.array([scored[k][0] for k in keys]), np.array([scored[k][1] for k in keys]),
                        np.array([k[0] for k in keys]))
    return {t: (rho, loss) for t, (rho, loss, _) in r["per_group"].items()}


def heldout_lines(rows: list[dict], baselines: dict[str, dict[str, tuple[float, float]]] | None = None) -> list[str]:
    """Markdown table: per arm, each held-out target's Spearman (mean ± sd over seeds of the fold ensembles),
    their mean and the mean top-1 loss; ``baselines``: name -> target -> (ρ, loss), rows below the arms.
    ``rows``: the comparison's run rows (one per fold folder)."""
    by_arm = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if (Path(r["run"]) / PREDICTIONS).exists():
            by_arm[(r["encoder"], r["plm"])][r["seed"]].append(Path(r["run"]))
    if not by_arm:
        return []
    results = {arm: [per_target(ensemble(folders)) for _, folders in sorted(seeds.items())]
               for arm, seeds in by_arm.items()}
    targets = sorted({t for runs in results.values() for run in runs for t in run})
    lines = ["| arm | seeds | " + " | ".join(targets) + " | mean ρ | mean top-1 loss |",
             "|---|---|" + "---|" * (len(targets) + 2)]
    for (encoder, plm), runs in results.items():
        cells = []
        for t in targets:
            v = np.array([run[t][0] for run in runs])
            cells.append(f"{v.mean():.3f}" + (f" ± {v.std(ddof=1):.3f}" if len(v) > 1 else ""))
        rho = np.mean([np.mean([run[t][0] for t in targets]) for run in runs])
        loss = np.mean([np.mean([run[t][1] for t in targets]) for run in runs])
        lines.append(f"| {encoder}, {plm} | {len(runs)} | " + " | ".join(cells) + f" | {rho:.3f} | {loss:.3f} |")
    for name, by_target in (baselines or {}).items():  # – where undefined (every model scores the same)
        rho = [by_target[t][0] for t in targets]
        lines.append(f"| {name} | – | " + " | ".join(_num(v) for v in rho) + f" | {_num(np.mean(rho))} | "
                     f"{np.mean([by_target[t][1] for t in targets]):.3f} |")
    return lines


def _num(v: float) -> str:
    return f"{v:.3f}" if np.isfinite(v) else "–"
