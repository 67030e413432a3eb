"""With and without PLM features on the docking, quality-assessment and affinity tasks, paired.

Each PLM arm is compared with a no-PLM run on exactly the complexes the arm can serve: our own PLM covers every
complex (its pair is the plain no-PLM run), ESM-2 650M only the 74 DB5 complexes with shared embeddings (its
pair is a no-PLM run restricted to them). Every run is one resumable folder; the table reads finished runs.
"""
from __future__ import annotations

import copy
import csv
import functools
import json
from pathlib import Path

import numpy as np

from ..train.config import TrainConfig
from .experiment import DataConfig, ModelConfig

#: the test metrics each task reports, and whether lower is better
METRICS = {
    "docking": {"crmsd_median": True, "irmsd_median": True, "dockq_median": False, "crmsd_mean": True},
    "qa": {"spearman": False, "local_spearman": False, "pearson": False, "kendall": False, "top1_dockq": False},
    "affinity": {"rmse": True, "pearson": False, "spearman": False},
}


def _test_metrics(task: str, result: dict) -> dict[str, float]:
    if task == "docking":
        t = result["test"]
        return {"crmsd_median": t["crmsd"]["median"], "irmsd_median": t["irmsd"]["median"],
                "dockq_median": t["dockq"]["median"], "crmsd_mean": t["crmsd"]["mean"]}
    if task == "qa":
        return {k: result["test"][k] for k in METRICS["qa"]}
    return {k: result[k]["mean"] for k in METRICS["affinity"]}


def _run(task: str, data: DataConfig, model: ModelConfig, train: TrainConfig, run_dir: Path, log) -> dict:
    done = run_dir / ("summary.json" if task == "affinity" else "metrics.json")
    if done.exists():
        return json.loads(done.read_text())
    if task == "docking":
        from .dock import DockingRun, train_docking

        return train_docking(DockingRun(data, model, train=train), run_dir, log=log)
    if task == "qa":
        from .quality import QualityRun, train_quality

        return train_quality(QualityRun(data, model, train=train), run_dir, log=log)
    from .affinity import AffinityData, AffinityRun, train_affinity

    return train_affinity(AffinityRun(AffinityData(plm=data.plm, cache_dir=data.cache_dir),
                                      ModelConfig(model.encoder, model.fusion, model.layers, out_dim=64), train), run_dir,
                          log=log)


def _pool_ids(task: str, data: DataConfig) -> dict[str, list[str]]:
    """The complexes (per split) a PLM arm can serve, as the task selects them."""
    from .db5 import DB5
    from .experiment import plm_source
    from .featurize import GraphConfig

    cache = Path(data.cache_dir)
    db5 = DB5(form="b", config=GraphConfig(), cache_dir=cache, plm=plm_source(data, cache))
    if task == "docking":
        from .dock import DockingRun, split_ids

        return split_ids(DockingRun(data), db5)
    from .quality import QualityRun, _targets

    return _targets(QualityRun(data), db5)


def run_task_comparison(task: str, base: ModelConfig, train: TrainConfig, encoders: list[str], arms: list[str],
                        seeds: int, out: Path, cache: str, log=print) -> list[dict]:
    if task not in METRICS:
        raise ValueError(f"task must be one of {sorted(METRICS)}, not {task!r}")
    if task == "affinity" and set(arms) - {"none", "default"}:
        raise ValueError("affinity compares the arms none and default (no ESM-2 embeddings exist for its proteins)")
    out = Path(out)
    rows = []
    for seed in range(seeds):
        for encoder in encoders:
            model = copy.deepcopy(base)
            model.encoder = encoder
            tr = copy.deepcopy(train)
            tr.seed = seed
            for arm in arms:
                if arm == "none":
                    continue
                pairs = [("none", "all"), (arm, "all")] if arm == "default" else [("none", arm), (arm, arm)]
                ids = None if arm == "default" else _pool_ids(task, DataConfig(plm=arm, cache_dir=cache))
                for plm, pool in pairs:
                    data = DataConfig(plm=plm, cache_dir=cache)
                    if ids is not None:
                        data.train_ids, data.val_ids, data.test_ids = ids["train"], ids["val"], ids["test"]
                    name = f"{encoder}_{plm}_{'all' if pool == 'all' else pool + '-pool'}_seed{seed}"
                    result = _run(task, data, model, tr, out / "runs" / name, log)
                    row = {"task": task, "encoder": encoder, "plm": plm, "pool": pool, "seed": seed,
                           "run": str(out / "runs" / name), **_test_metrics(task, result)}
                    if not any(r["run"] == row["run"] for r in rows):
                        rows.append(row)
                        log(f"{task} / {encoder} / PLM {plm} / pool {pool} / seed {seed}: " +
                            ", ".join(f"{k} {row[k]:.3f}" for k in METRICS[task]))
    write_task_table(task, rows, out)
    plot_task(task, rows, out / "figure.png")
    return rows


def write_task_table(task: str, rows: list[dict], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    metrics = METRICS[task]
    lines = ["| encoder | pool | PLM | seeds | " + " | ".join(metrics) + " |", "|---" * (4 + len(metrics)) + "|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["encoder"], r["pool"], r["plm"]), []).append(r)
    for (enc, pool, plm), rs in groups.items():
        cells = [f"{np.mean([r[m] for r in rs]):.3f} ± {np.std([r[m] for r in rs]):.3f}" for m in metrics]
        lines.append(f"| {enc} | {pool} | {plm} | {len(rs)} | " + " | ".join(cells) + " |")
    lines += ["", "Paired change with the PLM (same encoder, pool and seed; sign: positive = better):", "",
              "| encoder | pool | PLM | " + " | ".join(metrics) + " |", "|---" * (3 + len(metrics)) + "|"]
    base = {(r["encoder"], r["pool"], r["seed"]): r for r in rows if r["plm"] == "none"}
    for (enc, pool, plm), rs in groups.items():
        if plm == "none":
            continue
        cells = []
        for m, lower in metrics.items():
            d = [(base[(enc, pool, r["seed"])][m] - r[m]) * (1 if lower else -1) for r in rs
                 if (enc, pool, r["seed"]) in base]
            cells.append(f"{np.mean(d):+.3f}" if d else "–")
        lines.append(f"| {enc} | {pool} | {plm} | " + " | ".join(cells) + " |")
    if task == "docking":
        lines += ["", *baseline_lines(rows)]
    path = out / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_task(task: str, rows: list[dict], path: Path) -> Path:
    """docking: CRMSD and IRMSD distributions (CDF) per pool, EquiDock's shipped predictions on the same
    complexes included; qa: predicted vs true DockQ of the test decoys per run; affinity: predicted vs measured
    pK (pooled folds) per run. The first seed of each arm is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = {}
    for r in rows:
        first.setdefault((r["encoder"], r["pool"], r["plm"]), r)
    pools = list(dict.fromkeys(r["pool"] for r in rows))
    if task == "docking":
        fig, axes = plt.subplots(len(pools), 2, figsize=(10, 3.6 * len(pools)), squeeze=False)
        reference = _equidock_scores()
        for i, pool in enumerate(pools):
            runs = [r for k, r in first.items() if k[1] == pool]
            ids = []
            for r in runs:
                scores = _read_csv(Path(r["run"]) / "test_scores.csv")
                ids = [s["complex"] for s in scores]
                for j, m in enumerate(("crmsd", "irmsd")):
                    _cdf(axes[i, j], [float(s[m]) for s in scores], f"{r['encoder']} + PLM {r['plm']}")
            for j, m in enumerate(("crmsd", "irmsd")):
                _cdf(axes[i, j], [reference[c][m] for c in ids if c in reference], "EquiDock (shipped)", "k--")
                axes[i, j].set(xlabel=f"{m.upper()} (Å)", ylabel="fraction of test complexes",
                               title=f"pool {pool}: {len(ids)} test complexes")
                axes[i, j].legend(fontsize=8)
    else:
        keys = list(first)
        fig, axes = plt.subplots(1, len(keys), figsize=(3.8 * len(keys), 3.8), squeeze=False)
        for ax, key in zip(axes[0], keys):
            run = Path(first[key]["run"])
            if task == "qa":
                pts = _read_csv(run / "predictions_test.csv")
                x, y, what = [float(p["dockq"]) for p in pts], [float(p["pred_dockq"]) for p in pts], "DockQ"
            else:
                pts = _read_csv(run / "predictions.csv")
                x, y, what = [float(p["pK"]) for p in pts], [float(p["predicted"]) for p in pts], "pK"
            ax.scatter(x, y, s=8, alpha=0.6)
            lo, hi = min(x + y), max(x + y)
            ax.plot([lo, hi], [lo, hi], "k:", lw=1)
            ax.set(xlabel=f"true {what}", ylabel=f"predicted {what}",
                   title=f"{key[0]} + PLM {key[2]}\n(pool {key[1]}, {len(x)} points)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _cdf(ax, values: list[float], label: str, style: str = "-") -> None:
    v = np.sort(values)
    ax.step(v, np.arange(1, len(v) + 1) / max(len(v), 1), style, where="post",
            label=f"{label} (median {np.median(v):.2f})" if len(v) else label)


@functools.lru_cache(maxsize=1)
def _equidock_scores() -> dict[str, dict]:
    """EquiDock's shipped test predictions scored per complex (once per process: table and figure share it)."""
    from ..data import dataset_path
    from .docking_metrics import score_folder

    root = dataset_path("db5") / "docking_test"
    return {r["complex"]: r for r in score_folder(root / "baselines" / "equidock", root / "complexes")[0]}


def baseline_lines(rows: list[dict]) -> list[str]:
    """EquiDock's shipped predictions scored on the same test complexes as each pool (the published medians,
    14.14 / 11.97 Å, are over all 25)."""
    from .docking_metrics import summarize

    scored = _equidock_scores()
    out = ["| reference on the same test complexes | pool | complexes | crmsd_median | irmsd_median | dockq_median |",
           "|---|---|---|---|---|---|"]
    for pool in dict.fromkeys(r["pool"] for r in rows):
        scores = Path(next(r["run"] for r in rows if r["pool"] == pool)) / "test_scores.csv"
        ids = [line.split(",")[0] for line in scores.read_text().splitlines()[1:]] if scores.exists() else []
        got = [scored[i] for i in ids if i in scored]
        if got:
            s = {m: summarize(g[m] for g in got)["median"] for m in ("crmsd", "irmsd", "dockq")}
            out.append(f"| EquiDock (shipped predictions) | {pool} | {len(got)} | {s['crmsd']:.2f} | {s['irmsd']:.2f} | "
                       f"{s['dockq']:.3f} |")
    return out
