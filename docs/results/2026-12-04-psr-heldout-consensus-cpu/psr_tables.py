"""The tables and figure of this folder from the finished comparisons (exact code behind the README's numbers).

    INTERGRAPH_DATA=../shared/data python docs/results/2026-12-04-psr-heldout-consensus-cpu/psr_tables.py \
        runs/psr_egnn runs/psr_egnn_consensus docs/results/2026-12-04-psr-heldout-consensus-cpu

Per arm and seed, each of the 39 targets is tested once (by the fold that held it out); per target, the mean over
seeds; intervals: 95 % bootstrap over targets (2,000 resamples). The held-out targets: each seed's fold models as
an ensemble (mean prediction).
"""
from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from intergraph.protein.tasks.chain_quality.baselines import baseline_scores
from intergraph.protein.tasks.chain_quality.data import read_extra_sets, read_model_sets
from intergraph.protein.tasks.chain_quality.heldout import ensemble, per_target
from intergraph.train.metrics import bootstrap_mean, ranking_metrics

MANY = 20
BASELINES = {"consensus (mean TM-score to ≤ 10 other models)": "consensus (mean TM-score to the other models)",
             "compactness": "compactness", "random order": "random order"}


def arms(comparisons: list[Path], folds: int = 5) -> dict[str, dict[int, list[Path]]]:
    """arm label -> seed -> fold folders (``OUT/runs/egnn_<plm>_seed<k>/fold<i>``); a seed whose folds are not all
    finished is left out, and said so."""
    out = defaultdict(dict)
    for comp in comparisons:
        consensus_input = "consensus" in comp.name
        for run in sorted((comp / "runs").iterdir()):
            encoder, plm, seed = run.name.rsplit("_", 2)
            done = sorted(f for f in run.glob("fold*") if (f / "predictions_test.csv").exists())
            label = (f"{encoder.upper()}{' + consensus input' if consensus_input else ''}, "
                     f"{'no PLM' if plm == 'none' else 'own PLM'}")
            if len(done) < folds:
                print(f"{run}: {len(done)} of {folds} folds finished; left out")
                continue
            out[label][int(seed.removeprefix("seed"))] = done
    order = ["EGNN, no PLM", "EGNN, own PLM", "EGNN + consensus input, no PLM", "EGNN + consensus input, own PLM"]
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def tested(folders: list[Path], name: str) -> dict[tuple[str, str], tuple[float, float]]:
    """(target, model) -> (predicted, true GDT_TS) over the folds' prediction files (each model once)."""
    out = {}
    for f in folders:
        for r in csv.DictReader(open(f / name)):
            key = (r["target"], r["model"])
            assert key not in out, f"{key} tested twice"
            out[key] = (float(r["predicted_gdt_ts"]), float(r["gdt_ts"]))
    return out


def global_spearman(folders: list[Path]) -> float:
    """Spearman over all test models of a fold, averaged over the folds (as the comparison's summary)."""
    out = []
    for f in folders:
        v = np.array(list(tested([f], "predictions_test.csv").values()))
        out.append(stats.spearmanr(v[:, 0], v[:, 1])[0])
    return float(np.mean(out))


def cell(values) -> str:
    m, lo, hi = bootstrap_mean(np.asarray(values))
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def main(comparisons: list[Path], out: Path) -> None:
    sets, _ = read_model_sets("psr_casp13")
    extra, _ = read_extra_sets("psr_casp13")
    many = sorted(t for t, s in sets.items() if len(s.models) >= MANY)
    lines = []
    # per arm: per seed target -> (rho, loss); global Spearman per seed; held-out per seed
    res, glob, held = {}, {}, {}
    for label, seeds in arms(comparisons).items():
        res[label] = {s: per_target(tested(f, "predictions_test.csv")) for s, f in sorted(seeds.items())}
        glob[label] = [global_spearman(f) for _, f in sorted(seeds.items())]
        held[label] = {s: per_target(ensemble(f)) for s, f in sorted(seeds.items())}
    base = {name: {} for name in BASELINES}
    cache = out / "baseline_scores.json"  # every baseline's score of every model (computed once: ~12 ms a pair)
    scores = json.loads(cache.read_text()) if cache.exists() else {}
    for t, s in {**sets, **extra}.items():
        if t not in scores:
            scores[t] = {k: v.tolist() for k, v in baseline_scores(s).items()}
            cache.write_text(json.dumps(scores))
        truth = np.array([m.gdt_ts for m in s.models])
        for name, key in BASELINES.items():
            rho, loss, _ = ranking_metrics(np.array(scores[t][key]), truth, np.array([t] * len(truth)))["per_group"][t]
            base[name][t] = (rho, loss)
    targets = sorted(sets)

    def mean_over_seeds(r: dict, t: str, k: int = 0, seeds=None) -> float:
        return float(np.mean([r[s][t][k] for s in (r if seeds is None else seeds)]))

    def sd(values) -> str:
        return f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""

    lines += ["## The 39 targets with natives (5-fold by target; each target tested once per seed)", "",
              "| arm | seeds | per-target Spearman, mean over targets (± sd over seeds) | [95 % CI over targets] | "
              f"the {len(many)} targets with ≥ {MANY} models | top-1 GDT_TS loss | "
              "global Spearman, mean over folds (± sd seeds) |",
              "|---|---|---|---|---|---|---|"]
    for label, r in res.items():
        per_seed = [np.mean([r[s][t][0] for t in targets]) for s in r]
        lines.append(f"| {label} | {len(r)} | {np.mean(per_seed):.3f}{sd(per_seed)} | "
                     f"{cell([mean_over_seeds(r, t) for t in targets]).split(' ', 1)[1]} | "
                     f"{np.mean([mean_over_seeds(r, t) for t in many]):.3f} | "
                     f"{np.mean([mean_over_seeds(r, t, 1) for t in targets]):.3f} | "
                     f"{np.mean(glob[label]):.3f}{sd(glob[label])} |")
    first = next(iter(arms(comparisons).values()))  # the folds of the no-PLM arm's seeds, for global Spearman
    for name, per in base.items():
        rho = [per[t][0] for t in targets]
        g = []
        for folders in first.values():
            for f in folders:
                keys = list(tested([f], "predictions_test.csv"))
                index = {(t, m.name): k for t in {t for t, _ in keys} for k, m in enumerate(sets[t].models)}
                pred = [scores[t][BASELINES[name]][index[(t, m)]] for t, m in keys]
                truth = [sets[t].models[index[(t, m)]].gdt_ts for t, m in keys]
                g.append(stats.spearmanr(pred, truth)[0])
        lines.append(f"| {name} | – | {np.nanmean(rho):.3f} | {cell(rho).split(' ', 1)[1]} | "
                     f"{np.mean([per[t][0] for t in many]):.3f} | {np.mean([per[t][1] for t in targets]):.3f} | "
                     f"{np.mean(g):.3f} |")
    lines += ["", f"The {len(many)} many-model targets, per-target Spearman (mean over seeds; per seed in brackets):",
              "", "| arm | " + " | ".join(f"{t} ({len(sets[t].models)})" for t in many) + " |",
              "|---|" + "---|" * len(many)]
    for label, r in res.items():
        lines.append(f"| {label} | " + " | ".join(
            f"{mean_over_seeds(r, t):.3f} ({'/'.join(f'{r[s][t][0]:.2f}' for s in r)})" for t in many) + " |")
    lines.append("| consensus baseline | " + " | ".join(
        f"{base[next(iter(BASELINES))][t][0]:.3f}" for t in many) + " |")

    # paired differences per target
    cons = base[next(iter(BASELINES))]
    pairs = [("EGNN, own PLM", "EGNN, no PLM"), ("EGNN + consensus input, no PLM", "EGNN, no PLM"),
             ("EGNN + consensus input, no PLM", "consensus baseline"),
             ("EGNN + consensus input, own PLM", "EGNN + consensus input, no PLM"),
             ("EGNN + consensus input, own PLM", "consensus baseline")]
    lines += ["", "## Paired differences of per-target Spearman (per target: mean over seeds; 95 % bootstrap over "
              "targets)", "", f"| difference | all 39 targets | the {len(many)} with ≥ {MANY} models "
              "(mean; per target) | held-out 3 (mean; per target) | targets better |", "|---|---|---|---|---|"]
    for a, b in pairs:
        if a not in res or (b not in res and b != "consensus baseline"):
            continue

        common = None if b == "consensus baseline" else sorted(set(res[a]) & set(res[b]))  # paired seeds only

        def values(label, ts, which):
            if label == "consensus baseline":
                return np.array([cons[t][0] for t in ts])
            return np.array([mean_over_seeds(which[label], t, seeds=common) for t in ts])

        d = values(a, targets, res) - values(b, targets, res)
        dm = values(a, many, res) - values(b, many, res)
        dx = values(a, sorted(extra), held) - values(b, sorted(extra), held)
        on = ""
        if common is not None and not len(common) == len(res[a]) == len(res[b]):
            on = f" (seed {', '.join(map(str, common))} only)"
        lines.append(f"| {a} − {b}{on} | {cell(d)} | {dm.mean():+.3f} ({', '.join(f'{v:+.2f}' for v in dm)}) | "
                     f"{dx.mean():+.3f} ({', '.join(f'{v:+.2f}' for v in dx)}) | {int((d > 0).sum())} of "
                     f"{len(d)} |")

    # held-out targets
    ex = sorted(extra)
    lines += ["", "## Held-out targets without a native (official labels; each seed's 5 fold models as an ensemble)",
              "", "| arm | seeds | " + " | ".join(f"{t} ({len(extra[t].models)})" for t in ex) +
              " | mean | top-1 loss (mean) |", "|---|---|" + "---|" * (len(ex) + 2)]
    for label, r in held.items():
        lines.append(f"| {label} | {len(r)} | " + " | ".join(
            f"{mean_over_seeds(r, t):.3f}{sd([r[s][t][0] for s in r])}" for t in ex) +
            f" | {np.mean([mean_over_seeds(r, t) for t in ex]):.3f} | "
            f"{np.mean([mean_over_seeds(r, t, 1) for t in ex]):.3f} |")
    for name, per in base.items():
        lines.append(f"| {name} | – | " + " | ".join(f"{per[t][0]:.3f}" for t in ex) +
                     f" | {np.mean([per[t][0] for t in ex]):.3f} | {np.mean([per[t][1] for t in ex]):.3f} |")
    (out / "tables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    figure(res, held, cons, targets, ex, out / "figure.png")


def figure(res, held, cons, targets, extra, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(res), figsize=(4.2 * len(res), 4.2), sharey=True)
    for ax, (label, r) in zip(np.atleast_1d(axes), res.items()):
        x = [cons[t][0] for t in targets]
        y = [np.mean([r[s][t][0] for s in r]) for t in targets]
        ax.scatter(x, y, s=14, label="39 targets (test fold)")
        h = held[label]
        ax.scatter([cons[t][0] for t in extra], [np.mean([h[s][t][0] for s in h]) for t in extra], s=40,
                   marker="^", color="C3", label="3 held-out targets")
        ax.plot([-1, 1], [-1, 1], color="grey", lw=0.8)
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel="consensus baseline, per-target Spearman", title=label)
    np.atleast_1d(axes)[0].set_ylabel("model, per-target Spearman (mean over seeds)")
    np.atleast_1d(axes)[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    *comps, dest = sys.argv[1:]
    main([Path(c) for c in comps], Path(dest))
