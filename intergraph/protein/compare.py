"""Paired comparison of encoders with and without PLM features on the same complexes and folds.

Every (encoder, PLM arm, seed, fold) is one run folder (resumable). All arms share one pool of complexes:
those every requested arm can serve (with ``esm2_650m`` in the arms, the 74 DB5 complexes that have real
embeddings). Folds: k-fold cross-validation over the pool (the EquiDock test split holds only 7 of them);
within each fold, a tenth of the training part is held out for validation/early stopping.
"""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np

from .experiment import DataConfig, InterfaceRun, ModelConfig, plm_source, train_interface
from .db5 import DB5

METRICS = ("auroc", "auprc", "median_group_auroc")


def kfold(ids: list[str], k: int, seed: int = 0) -> list[tuple[list[str], list[str], list[str]]]:
    """(train, val, test) per fold; deterministic in (ids, k, seed)."""
    order = [str(c) for c in np.random.default_rng(seed).permutation(sorted(ids))]
    parts = [order[i::k] for i in range(k)]
    out = []
    for i in range(k):
        test = sorted(parts[i])
        rest = [c for j, p in enumerate(parts) if j != i for c in p]
        n_val = max(1, len(rest) // 10)
        out.append((sorted(rest[n_val:]), sorted(rest[:n_val]), test))
    return out


def comparison_pool(arms: list[str], cache_dir: Path) -> list[str]:
    pool = set(DB5().all_ids)
    for arm in arms:
        if arm == "none":
            continue
        source = plm_source(DataConfig(plm=arm, cache_dir=str(cache_dir)), cache_dir)
        pool &= set(DB5(plm=source).ids_with_embeddings())
    return sorted(pool)


def run_comparison(base: InterfaceRun, encoders: list[str], arms: list[str], seeds: int, folds: int, out: Path,
                   log=print, progress: bool = True, max_complexes: int | None = None) -> list[dict]:
    out = Path(out)
    cache = Path(base.data.cache_dir)
    pool = comparison_pool(arms, cache)
    if max_complexes:  # a quick look: the smallest complexes of the pool
        sizes = {c: sum(len(ch.residues) for r in "rl" for ch in DB5().structure(c, r).chains()) for c in pool}
        pool = sorted(sorted(pool, key=sizes.get)[:max_complexes])
    splits = kfold(pool, folds, seed=0)
    log(f"pool: {len(pool)} complexes, {folds}-fold cross-validation; arms {arms}; encoders {encoders}; seeds {seeds}")
    rows = []
    # seed-major, arms innermost: an interrupted comparison leaves complete, paired seeds behind
    for seed in range(seeds):
        for encoder in encoders:
            for f, (train, val, test) in enumerate(splits):
                for arm in arms:
                    cfg = copy.deepcopy(base)
                    cfg.model = ModelConfig(**{**base.model.__dict__, "encoder": encoder})
                    cfg.data = DataConfig(**{**base.data.__dict__, "plm": arm, "train_ids": train, "val_ids": val,
                                             "test_ids": test})
                    cfg.train.seed = seed
                    run_dir = out / "runs" / f"{encoder}_{arm}_seed{seed}_fold{f}"
                    done = run_dir / "metrics.json"
                    result = json.loads(done.read_text()) if done.exists() else train_interface(cfg, run_dir, progress, log)
                    row = {"encoder": encoder, "plm": arm, "seed": seed, "fold": f, "run": str(run_dir),
                           "parameters": result["parameters"]["total"]}
                    row.update({m: result["test"][m] for m in METRICS})
                    rows.append(row)
                    log(f"{encoder} / {arm} / seed {seed} / fold {f}: " +
                        ", ".join(f"{m} {row[m]:.4f}" for m in METRICS))
    write_outputs(rows, out)
    return rows


def seed_values(rows: list[dict], metric: str) -> np.ndarray:
    """One value per seed: the metric averaged over that seed's folds."""
    by_seed: dict[int, list[float]] = {}
    for r in rows:
        by_seed.setdefault(int(r["seed"]), []).append(float(r[metric]))
    return np.array([np.nanmean(v) for _, v in sorted(by_seed.items())])


def spread(rows: list[dict], metric: str) -> tuple[float, float]:
    """(mean, std): the std over seeds of the fold-averaged metric; with a single seed, over its folds."""
    per_seed = seed_values(rows, metric)
    values = per_seed if len(per_seed) > 1 else np.array([float(r[metric]) for r in rows])
    return float(np.nanmean(values)), float(np.nanstd(values))


def write_outputs(rows: list[dict], out: Path) -> dict[str, Path]:
    """results.csv (every run), summary.csv / summary.md (mean ± std over seeds), roc_curves.png, plm_gain.png."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["encoder"], r["plm"]), []).append(r)
    n_seeds = len({r["seed"] for r in rows})
    summary = []
    for (enc, arm), rs in groups.items():
        s = {"encoder": enc, "plm": arm, "seeds": len({r["seed"] for r in rs}), "runs": len(rs),
             "parameters": rs[0]["parameters"]}
        for m in METRICS:
            s[m], s[f"{m}_std"] = spread(rs, m)
        summary.append(s)
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(summary[0]))
        w.writeheader()
        w.writerows(summary)
    over = "seeds (each seed: the mean over its folds)" if n_seeds > 1 else "folds (one seed)"
    lines = [f"Mean ± std over {over}.", "",
             "| encoder | PLM | seeds | runs | parameters | AUROC | AUPRC | median per-complex AUROC |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['encoder']} | {s['plm']} | {s['seeds']} | {s['runs']} | {s['parameters']:,} | " +
                     " | ".join(f"{s[m]:.4f} ± {s[m + '_std']:.4f}" for m in METRICS) + " |")
    gains = paired_gains(rows)
    if gains:
        lines += ["", f"Paired AUROC gain over no PLM (same seed and fold; mean ± std over {over}):", "",
                  "| encoder | PLM | pairs | gain | pairs improved |", "|---|---|---|---|---|"]
        for (enc, arm), d in gains.items():
            per_seed = np.array([np.mean(v) for v in d.values()])
            every = np.concatenate(list(d.values()))
            mean, std = (per_seed.mean(), per_seed.std()) if len(per_seed) > 1 else (every.mean(), every.std())
            lines.append(f"| {enc} | {arm} | {len(every)} | {mean:+.4f} ± {std:.4f} | {int((every > 0).sum())}/{len(every)} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    figures = {"roc": out / "roc_curves.png", "gain": out / "plm_gain.png"}
    plot_roc(groups, figures["roc"])
    plot_gain({k: np.concatenate(list(v.values())) for k, v in gains.items()}, figures["gain"])
    return figures


def paired_gains(rows: list[dict]) -> dict[tuple[str, str], dict[int, np.ndarray]]:
    """AUROC(arm) - AUROC(none) per (encoder, arm) and seed, paired by seed and fold."""
    base = {(r["encoder"], r["seed"], r["fold"]): r["auroc"] for r in rows if r["plm"] == "none"}
    out: dict[tuple[str, str], dict[int, list[float]]] = {}
    for r in rows:
        key = (r["encoder"], r["seed"], r["fold"])
        if r["plm"] != "none" and key in base:
            out.setdefault((r["encoder"], r["plm"]), {}).setdefault(int(r["seed"]), []).append(r["auroc"] - base[key])
    return {k: {seed: np.array(v) for seed, v in sorted(d.items())} for k, d in out.items()}


def plot_roc(groups, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

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
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Interface residues, test folds pooled")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_gain(gains: dict[tuple[str, str], np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    if gains:
        labels = [f"{e}\n+{a}" for e, a in gains]
        ax.bar(labels, [d.mean() for d in gains.values()], yerr=[d.std() for d in gains.values()],
               color="tab:blue", capsize=3)
        for k, d in enumerate(gains.values()):
            ax.scatter(np.full(len(d), k), d, color="black", s=8, zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("AUROC gain over no PLM")
    ax.set_title("PLM gain per encoder (paired by seed and fold; mean ± std, dots: pairs)")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
