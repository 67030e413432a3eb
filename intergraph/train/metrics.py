"""Metrics of every task, computed with scikit-learn / SciPy on NumPy arrays."""
from __future__ import annotations

import numpy as np


def binary_metrics(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None) -> dict[str, float]:
    """Pooled AUROC and AUPRC; with ``groups`` also the median and mean per-group AUROC (groups that hold
    both classes only). Undefined values are NaN, never a silent 0.5."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = labels.astype(bool)
    out = {"auroc": float("nan"), "auprc": float("nan"),
           "positive_rate": float(labels.mean()) if len(labels) else float("nan")}
    if labels.any() and (~labels).any():
        out["auroc"] = float(roc_auc_score(labels, scores))
        out["auprc"] = float(average_precision_score(labels, scores))
    if groups is not None:
        per = []
        for g in np.unique(groups):
            m = groups == g
            if labels[m].any() and (~labels[m]).any():
                per.append(roc_auc_score(labels[m], scores[m]))
        out["median_group_auroc"] = float(np.median(per)) if per else float("nan")
        out["mean_group_auroc"] = float(np.mean(per)) if per else float("nan")
    return out


def regression_metrics(pred: np.ndarray, target: np.ndarray, groups: np.ndarray | None = None) -> dict[str, float]:
    """RMSE, Pearson, Spearman, Kendall; with ``groups`` also their per-group means ("local")."""
    from scipy import stats

    out = {"rmse": float(np.sqrt(np.mean((pred - target) ** 2)))}
    for name, fn in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        out[name] = float(fn(pred, target)[0]) if len(pred) > 2 and np.std(pred) > 0 else float("nan")
        if groups is not None:
            vals = [fn(pred[groups == g], target[groups == g])[0] for g in np.unique(groups)
                    if (groups == g).sum() > 2 and np.std(pred[groups == g]) > 0]
            out[f"local_{name}"] = float(np.nanmean(vals)) if vals else float("nan")
    return out


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the k highest scores (ties broken by index; k capped at the
    number of classes). NaN for no rows."""
    if len(labels) == 0:
        return float("nan")
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def ranking_metrics(pred: np.ndarray, truth: np.ndarray, groups: np.ndarray, min_items: int = 2) -> dict:
    """How well ``pred`` ranks the items of each group (a target's models) by ``truth`` (higher = better):
    per group, Spearman ρ and the top-1 loss (best truth − truth of the item ranked first; ties: first listed),
    over the groups with at least ``min_items`` items and some spread in both; with global Spearman and Pearson.
    Returns the summary and ``per_group``: name -> (ρ, loss, items)."""
    from scipy import stats

    per = {}
    for g in np.unique(groups):
        m = groups == g
        if m.sum() < min_items:
            continue
        p, t = pred[m], truth[m]
        rho = float(stats.spearmanr(p, t)[0]) if np.std(p) > 0 and np.std(t) > 0 else float("nan")
        per[str(g)] = (rho, float(t.max() - t[np.argmax(p)]), int(m.sum()))
    rhos = [v[0] for v in per.values() if np.isfinite(v[0])]
    return {"per_target_spearman": float(np.mean(rhos)) if rhos else float("nan"),
            "top1_loss": float(np.mean([v[1] for v in per.values()])) if per else float("nan"),
            "spearman": float(stats.spearmanr(pred, truth)[0]), "pearson": float(stats.pearsonr(pred, truth)[0]),
            "targets": len(per), "per_group": per}


def bootstrap_mean(values: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` (NaN dropped) and its 95 % percentile bootstrap interval."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan"), float("nan")
    means = np.random.default_rng(seed).choice(v, size=(resamples, len(v)), replace=True).mean(1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
