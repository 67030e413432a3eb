"""Comparison tables that keep the sources of variation apart.

Rows are runs: ``{arm keys..., "seed", "fold", metric: value}``. For each arm a metric is reported as

    mean      over every (seed, fold) run
    ± folds   the standard deviation over the folds of one seed, averaged over seeds (fold-to-fold spread)
    ± seeds   the standard deviation over seeds of the fold-averaged value (seed-to-seed spread)

(population standard deviations; "–" where there is one fold or one seed). A paired gain of an arm over the
baseline arm is the difference on the same seed and fold, signed so that positive is better, reported the same
way; its 95 % interval comes from a bootstrap over items (complexes or targets): items are resampled with
replacement, the same resample for every seed and both arms, and the per-item statistic is recomputed
(:func:`bootstrap_gain`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def _std(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return float(v.std()) if len(v) > 1 else float("nan")


def spreads(rows: list[dict], metric: str) -> dict[str, float]:
    """Mean, ± folds and ± seeds of ``metric`` over ``rows`` (see the module docstring)."""
    by_seed: dict[int, list[float]] = {}
    for r in rows:
        by_seed.setdefault(int(r["seed"]), []).append(float(r[metric]))
    every = [v for vs in by_seed.values() for v in vs]
    fold_sd = [_std(vs) for vs in by_seed.values()]
    fold_sd = [s for s in fold_sd if not np.isnan(s)]
    return {"mean": float(np.nanmean(every)) if every else float("nan"),
            "sd_folds": float(np.mean(fold_sd)) if fold_sd else float("nan"),
            "sd_seeds": _std([np.nanmean(vs) for vs in by_seed.values()]),
            "seeds": len(by_seed), "runs": len(every)}


def paired_differences(rows: list[dict], base: list[dict], metric: str, lower_is_better: bool) -> list[dict]:
    """Per (seed, fold) present in both: ``metric`` of ``rows`` minus that of ``base``, signed so that positive
    is better."""
    ref = {(int(r["seed"]), int(r["fold"])): float(r[metric]) for r in base}
    sign = -1.0 if lower_is_better else 1.0
    return [{"seed": int(r["seed"]), "fold": int(r["fold"]),
             metric: sign * (float(r[metric]) - ref[(int(r["seed"]), int(r["fold"]))])}
            for r in rows if (int(r["seed"]), int(r["fold"])) in ref]


def _statistic(kind: str, values: np.ndarray) -> np.ndarray:
    """``values`` (B, n, k) -> (B,): the mean of column 0, or the Pearson r of column 0 against column 1."""
    if kind == "mean":
        return np.nanmean(values[..., 0], axis=1)
    if kind == "pearson":
        x, y = values[..., 0], values[..., 1]
        x, y = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
        den = np.sqrt((x * x).sum(1) * (y * y).sum(1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, (x * y).sum(1) / den, np.nan)
    raise ValueError(f"unknown statistic {kind!r}")


def bootstrap_gain(arm: dict[int, dict[str, Sequence[float]]], base: dict[int, dict[str, Sequence[float]]] | None,
                   statistic: str = "mean", higher_is_better: bool = True, n_boot: int = 2000, seed: int = 0
                   ) -> dict[str, float]:
    """Paired gain of ``arm`` over ``base`` on a per-item statistic, with a 95 % percentile bootstrap interval.

    ``arm[seed][item]`` and ``base[seed][item]`` hold the item's values (one, or (prediction, truth) for
    ``pearson``). The gain is the mean over seeds of statistic(arm) − statistic(base) on the items present in
    every seed of both; the bootstrap resamples those items with replacement (one resample shared by all seeds
    and both sides). Signed so that positive is better. With ``base`` None: the statistic of ``arm`` itself
    (mean over seeds) and its interval."""
    sides = [arm] + ([base] if base is not None else [])
    seeds = sorted(set.intersection(*(set(s) for s in sides)))
    items = sorted(set.intersection(*(set(s[k]) for s in sides for k in seeds))) if seeds else []
    if not items:
        return {"gain": float("nan"), "low": float("nan"), "high": float("nan"), "items": 0}
    sign = 1.0 if higher_is_better or base is None else -1.0
    rng = np.random.default_rng(seed)
    n = len(items)
    resample = np.concatenate([np.arange(n)[None, :], rng.integers(0, n, size=(n_boot, n))])  # row 0: as observed
    total = np.zeros(n_boot + 1)
    for s in seeds:
        a = np.array([np.atleast_1d(arm[s][i]) for i in items], dtype=float)
        total += _statistic(statistic, a[resample])
        if base is not None:
            b = np.array([np.atleast_1d(base[s][i]) for i in items], dtype=float)
            total -= _statistic(statistic, b[resample])
    gains = sign * total / len(seeds)
    low, high = np.nanpercentile(gains[1:], [2.5, 97.5])
    return {"gain": float(gains[0]), "low": float(low), "high": float(high), "items": n}


def interval_lines(rows: list[dict], items: Callable[[dict], dict[str, Sequence[float]]], name: str, statistic: str,
                   keys: Sequence[str] = ("encoder", "plm"), digits: int = 3) -> list[str]:
    """Markdown rows: each arm's per-item statistic over its test items (folds pooled, mean over seeds) with its
    95 % bootstrap interval over items."""
    lines = ["| " + " | ".join(keys) + f" | {name} [95 % CI] (items) |", "|" + "---|" * (len(keys) + 1)]
    for key, rs in grouped(rows, keys).items():
        by: dict[int, dict[str, Sequence[float]]] = {}
        for r in rs:
            by.setdefault(int(r["seed"]), {}).update(items(r))
        b = bootstrap_gain(by, None, statistic)
        lines.append("| " + " | ".join(map(str, key)) + f" | {fmt(b['gain'], digits)} [{fmt(b['low'], digits)}, "
                     f"{fmt(b['high'], digits)}] ({b['items']}) |")
    return lines


def fmt(value: float, digits: int = 3, signed: bool = False) -> str:
    if value is None or np.isnan(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def spread_cells(s: dict[str, float], digits: int = 3, signed: bool = False) -> str:
    """``mean ± folds ± seeds`` (a dash for a spread that does not exist)."""
    return f"{fmt(s['mean'], digits, signed)} ± {fmt(s['sd_folds'], digits)} ± {fmt(s['sd_seeds'], digits)}"


def grouped(rows: list[dict], keys: Sequence[str]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def summary_lines(rows: list[dict], columns: dict[str, bool], keys: Sequence[str] = ("encoder", "plm"),
                  digits: int = 3) -> tuple[list[str], list[dict]]:
    """Markdown table (and CSV rows) of every arm: runs, parameters, each metric as mean ± folds ± seeds."""
    head = "| " + " | ".join(keys) + " | seeds × folds | parameters | " + " | ".join(columns) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2 + len(columns))]
    out = []
    for key, rs in grouped(rows, keys).items():
        cells = {m: spreads(rs, m) for m in columns}
        folds = len({int(r["fold"]) for r in rs})
        lines.append("| " + " | ".join(map(str, key)) + f" | {cells[next(iter(columns))]['seeds']} × {folds} | "
                     f"{int(rs[0].get('parameters', 0)):,} | "
                     + " | ".join(spread_cells(c, digits) for c in cells.values()) + " |")
        row = dict(zip(keys, key))
        row.update({"seeds": cells[next(iter(columns))]["seeds"], "folds": folds, "runs": len(rs),
                    "parameters": rs[0].get("parameters", "")})
        for m, c in cells.items():
            row.update({m: c["mean"], f"{m}_sd_folds": c["sd_folds"], f"{m}_sd_seeds": c["sd_seeds"]})
        out.append(row)
    return lines, out


def gain_lines(rows: list[dict], columns: dict[str, bool], items: Callable[[dict], dict[str, Sequence[float]]],
               gain_name: str, statistic: str, higher_is_better: bool, keys: Sequence[str] = ("encoder", "plm"),
               arm_key: str = "plm", base_arm: str = "none", digits: int = 3) -> tuple[list[str], list[dict]]:
    """Markdown table of the paired gains of every non-baseline arm over the baseline arm with the same other
    keys: each table metric (mean ± folds ± seeds, pairs improved) and the per-item gain with its bootstrap
    interval. ``items(row)`` gives a run's per-item values."""
    groups = grouped(rows, keys)
    lines = ["| " + " | ".join(keys) + " | pairs | " + " | ".join(f"{m} gain" for m in columns) +
             f" | pairs improved ({next(iter(columns))}) | {gain_name} gain [95 % CI] (items) |",
             "|" + "---|" * (len(keys) + 3 + len(columns))]
    out = []
    for key, rs in groups.items():
        k = dict(zip(keys, key))
        if k[arm_key] == base_arm:
            continue
        base_key = tuple(base_arm if n == arm_key else k[n] for n in keys)
        if base_key not in groups:
            continue
        base = groups[base_key]
        diffs = {m: paired_differences(rs, base, m, lower) for m, lower in columns.items()}
        first = next(iter(columns))
        improved = sum(d[first] > 0 for d in diffs[first])

        def per_seed(group):
            by: dict[int, dict[str, Sequence[float]]] = {}
            for r in group:
                by.setdefault(int(r["seed"]), {}).update(items(r))
            return by

        boot = bootstrap_gain(per_seed(rs), per_seed(base), statistic, higher_is_better)
        lines.append("| " + " | ".join(map(str, key)) + f" | {len(diffs[first])} | " +
                     " | ".join(spread_cells(spreads(d, m), digits, signed=True) if d else "–"
                                for m, d in diffs.items()) +
                     f" | {improved}/{len(diffs[first])} | {fmt(boot['gain'], digits, True)} "
                     f"[{fmt(boot['low'], digits, True)}, {fmt(boot['high'], digits, True)}] ({boot['items']}) |")
        out.append({**k, "pairs": len(diffs[first]), "improved": improved,
                    **{f"{m}_gain": spreads(d, m)["mean"] if d else float("nan") for m, d in diffs.items()},
                    "item_gain": boot["gain"], "item_gain_low": boot["low"], "item_gain_high": boot["high"],
                    "items": boot["items"]})
    return (lines if out else []), out


def plot_gains(rows: list[dict], gains: list[dict], metric: str, path, keys: Sequence[str] = ("encoder", "plm"),
               arm_key: str = "plm", base_arm: str = "none", lower_is_better: bool = False) -> None:
    """Bars: the paired gain in ``metric`` of each arm (positive = better), dots: its (seed, fold) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = grouped(rows, keys)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(gains) + 2), 3.2), dpi=120)
    for x, g in enumerate(gains):
        key = tuple(g[k] for k in keys)
        base_key = tuple(base_arm if k == arm_key else g[k] for k in keys)
        d = np.array([r[metric] for r in paired_differences(groups[key], groups[base_key], metric, lower_is_better)])
        ax.bar(x, d.mean(), color="tab:blue")
        ax.scatter(np.full(len(d), x), d, color="black", s=8, zorder=3)
    ax.set_xticks(range(len(gains)), [" + ".join(str(g[k]) for k in keys) for g in gains], fontsize=8)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(f"{metric} gain over {base_arm} (better: up)")
    ax.set_title("Paired gains (bars: mean; dots: seed-and-fold pairs)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
