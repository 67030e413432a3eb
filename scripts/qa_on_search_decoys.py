"""How a QA run ranks the docking search's own decoys, beside the reference-free baselines on the same decoys:
every search decoy of each test target, and the refined cluster heads alone (what re-ranking a docking result
sees). Reads each run's test predictions (``--predictions``, relative to the run: its own ``predictions_test.csv``
when it took the decoys in training, ``quality.search_decoys``, or those of ``protein evaluate RUN --out
RUN/evaluations/search --set quality.search_decoys=DIR ...``) and the ``protein decoys`` folder; prints markdown
tables (95 % bootstrap intervals over targets) — each ranker, and paired differences of each run against the
search score and against the first run — and writes them to ``--out``. Runs whose configurations differ only in
the seed form one arm (named by the first run's folder less a ``_s<seed>`` suffix); where an arm has several
seeds, a table of the arms gives the spread over seeds and the paired differences averaged over seeds
(:func:`quality.baselines.seed_table`), and one of each arm's own test sets (EquiDock's six methods' decoys and
the external HADDOCK decoys, from each run's ``metrics.json``) as mean ± sd over seeds. With ``--val-decoys``
(a ``protein decoys`` folder holding the validation targets, whose every decoy the runs predicted in
``predictions_val.csv`` beside ``--predictions``), each run also ranks by QA fused with the search score
(:func:`quality.baselines.fused`), the weight chosen per run on the validation targets' per-target Spearman.

Run: ``python scripts/qa_on_search_decoys.py --run RUN [--run RUN2 ...] --decoys DIR [--predictions
evaluations/search/predictions_test.csv] [--val-decoys DIR] --out table.md``
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from intergraph.protein.complexes import ComplexSet
from intergraph.protein.run import read_config
from intergraph.protein.tasks.quality.baselines import (
    baseline_table,
    fused,
    fusion_weight,
    paired_table,
    seed_table,
    stored_scores,
)
from intergraph.protein.tasks.quality.decoys import read_decoys
from intergraph.train.compare import fmt, spreads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, action="append", required=True)
    ap.add_argument("--decoys", type=Path, required=True)
    ap.add_argument("--predictions", default="predictions_test.csv", help="relative to each run folder")
    ap.add_argument("--val-decoys", type=Path, help="decoys of the validation targets: fuse QA with the search score")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    predicted: dict[str, dict[str, dict[str, float]]] = {}      # ranker -> decoy -> prediction
    arms: dict[str, dict[int, str]] = {}                         # arm -> seed -> ranker
    arm_runs: dict[str, dict[int, Path]] = {}
    configs: dict[str, str] = {}                                 # configuration less the seed -> arm
    for run in args.run:
        cfg = read_config(run / "config.yaml")
        name = f"QA {run.name} ({cfg.model.encoder}, PLM {cfg.data.plm}, seed {cfg.train.seed})"
        with open(run / args.predictions) as f:
            predicted[name] = {r["decoy"]: float(r["pred_dockq"]) for r in csv.DictReader(f)}
        key = dataclasses.asdict(cfg)
        key["train"].pop("seed")
        arm = configs.setdefault(json.dumps(key, sort_keys=True), re.sub(r"_s\d+$", "", run.name))
        if cfg.train.seed in arms.get(arm, {}):
            raise SystemExit(f"{run}: a second run of arm {arm} with seed {cfg.train.seed}")
        arms.setdefault(arm, {})[cfg.train.seed] = name
        arm_runs.setdefault(arm, {})[cfg.train.seed] = run
    chosen = fusion_weights(args, arm_runs, arms) if args.val_decoys else {}
    weights = {n: w for n, w in chosen.items() if w > 0}      # weight 0: the QA ranking itself
    for arm, by in list(arms.items()):
        if all(name in weights for name in by.values()):
            arms[f"{arm} ⊕ search score"] = {seed: f"{name} ⊕ search score" for seed, name in by.items()}
    seeded = any(len(by) > 1 for by in arms.values())
    cset = ComplexSet(cfg.data.source, form="b")
    targets = sorted({p.stem for p in (args.decoys / "targets").glob("*.csv")})
    lines = [f"QA runs: {', '.join(map(str, args.run))}; decoys: {args.decoys}", ""]
    for title, keep in (("every search decoy", None), ("the refined cluster heads (re-ranking)", "search-head")):
        decoys, scores = {}, {}
        for t in targets:
            ds = read_decoys(args.decoys / "targets" / f"{t}.csv")
            base = stored_scores(args.decoys / "baselines" / f"{t}.csv", ds,
                                 lambda t=t, f=ds[0].form: (cset.structure(t, "r", f), cset.structure(t, "l", f)))
            mask = np.array([keep is None or d.source == keep for d in ds])
            if not all(d.decoy in p for p in predicted.values() for d in ds):
                continue        # a target the runs did not test
            decoys[t] = [d for d, m in zip(ds, mask) if m]
            scores[t] = {**{n: np.array([p[d.decoy] for d in decoys[t]]) for n, p in predicted.items()},
                         **{n: v[mask] for n, v in base.items()}}
            for n, w in weights.items():
                scores[t][f"{n} ⊕ search score"] = fused(scores[t][n], scores[t]["search score"], w)
        names = list(predicted) + [f"{n} ⊕ search score" for n in weights]
        pairs = [(n, "search score") for n in names] + [(n, names[0]) for n in names[1:]]
        lines += [f"### {title}", "", *baseline_table(decoys, scores), "", "Paired (A − B per target):", "",
                  *paired_table(decoys, scores, pairs), ""]
        if seeded:
            lines += [f"#### {title}: arms over seeds (mean ± sd over seeds [95 % bootstrap interval over targets "
                      "of the seed-mean])", "", *seed_table(decoys, scores, arms), ""]
    if chosen:
        lines += ["Fusion weights w of the search score (z(QA) + w z(search score)), chosen on the validation "
                  f"targets of {args.val_decoys} (0: the QA ranking itself, no fused row): "
                  + "; ".join(f"{n}: {w:g}" for n, w in chosen.items()), ""]
    if seeded:
        lines += ["### each arm's own test sets (mean ± sd over seeds of the per-target Spearman)", "",
                  *own_test_sets(arm_runs), ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def fusion_weights(args, arm_runs: dict, arms: dict) -> dict[str, float]:
    """Per QA ranker: the fusion weight chosen on the validation targets of ``--val-decoys`` whose every decoy the
    run predicted (``predictions_val.csv`` beside ``--predictions``; runs without one are not fused); the
    validation Spearman per weight printed."""
    out = {}
    every = {p.stem: read_decoys(p) for p in sorted((args.val_decoys / "targets").glob("*.csv"))}   # read once
    for arm, runs in arm_runs.items():
        for seed, run in runs.items():
            path = run / Path(args.predictions).with_name("predictions_val.csv")
            if not path.exists():
                print(f"{run}: no {path.name} (evaluated before it was written): not fused")
                continue
            with open(path) as f:
                val = {r["decoy"]: float(r["pred_dockq"]) for r in csv.DictReader(f)}
            decoys = {t: ds for t, ds in every.items() if all(d.decoy in val for d in ds)}
            if not decoys:
                raise SystemExit(f"{run}: no validation target of {args.val_decoys} has every decoy predicted")
            name = arms[arm][seed]
            out[name], means = fusion_weight(decoys, val)
            print(f"{name}: {len(decoys)} validation targets; per-target Spearman by weight "
                  + ", ".join(f"{w:g}: {m:.3f}" for w, m in means.items()))
    return out


def own_test_sets(arm_runs: dict[str, dict[int, Path]]) -> list[str]:
    """Rows per arm: per-target Spearman on EquiDock's six methods' decoys and on its synthetic perturbations of
    the test targets, and on the external HADDOCK decoys, from each run's ``metrics.json``."""
    columns = {"EquiDock's methods (test)": ("test_by_source", "docking methods"),
               "perturbations (test)": ("test_by_source", "perturbation"), "HADDOCK (1ATN, 1AK4)": ("external",)}
    lines = ["| arm (seeds) | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for arm, runs in arm_runs.items():
        cells = []
        for path in columns.values():
            rows = []
            for seed, run in runs.items():
                m = json.loads((run / "metrics.json").read_text())
                for k in path:
                    m = m.get(k, {})
                rows.append({"seed": seed, "fold": 0, "v": float(m.get("local_spearman", float("nan")))})
            sp = spreads(rows, "v")
            cells.append(f"{fmt(sp['mean'])} ± {fmt(sp['sd_seeds'])}")
        lines.append(f"| {arm} ({len(runs)}) | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
