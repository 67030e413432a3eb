"""Paired comparison of encoders with and without PLM features, for any registered task.

Every (encoder, PLM arm, seed) is one run (a k-fold run with ``split kfold``) in ``OUT/runs/``, resumable, and
reused only when its stored config is the one asked for. The same command started on several workers shares
the work: each trains the runs (folds) no other holds, then waits for the rest. All arms share one pool: the
complexes every arm can serve (with ``esm2_650m`` among the arms, the 74 DB5 complexes with real embeddings).
Seeds vary the initialisation and, unless a fixed ``split_seed`` is given, the split (folds) too; both arms of a
seed see the same split, so gains are paired. ``OUT`` holds ``command.txt`` (the exact command), ``config.yaml``
(the base config), ``results.csv`` (every run and fold), ``summary.md`` / ``summary.csv`` / ``gains.csv``, the
task's ``figure.png`` and ``gains.png``.
"""
from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..train.compare import gain_lines, interval_lines, plot_gains, summary_lines
from ..train.config import save_yaml
from ..train.experiment import RunBusy
from .run import read_config, run_folders, train
from .tasks import task
from .tasks.base import read_items


def run_rows(spec, run_dir: Path) -> list[dict]:
    """One row per single-model folder of a finished run: arm keys, seed, fold, folder, parameters, metrics."""
    import json

    rows = []
    for k, folder in enumerate(run_folders(run_dir)):
        cfg = read_config(folder / "config.yaml")
        result = json.loads((folder / "metrics.json").read_text())
        rows.append({"encoder": cfg.model.encoder, "plm": cfg.data.plm, "seed": cfg.train.seed,
                     "fold": cfg.data.fold if cfg.data.fold is not None else k, "run": str(folder),
                     "parameters": result["parameters"]["total"] if isinstance(result["parameters"], dict)
                     else result["parameters"], **spec.test_metrics(result)})
    return rows


def shared_pool(base, arms: list[str], log: Callable = print) -> list[str]:
    """The complexes every arm can serve."""
    spec = task(base.task)
    pool = None
    for arm in arms:
        cfg = copy.deepcopy(base)
        cfg.data.plm = arm
        ids = set(spec.pool(cfg, log))
        pool = ids if pool is None else pool & ids
        if not pool:
            raise InputError(f"{base.data.source}: no complex that every arm of {', '.join(arms)} can serve "
                             f"(after {arm})")
    return sorted(pool)


def run_comparison(base, encoders: list[str], arms: list[str], seeds: int, out: Path, split_seed: str = "seed",
                   command: str = "", progress: bool = True, log: Callable = print, overwrite: bool = False
                   ) -> list[dict]:
    """Train every encoder × arm × seed on the shared pool (seed-major, arms innermost, so an interrupted
    comparison leaves complete, paired seeds behind); write the tables and figures."""
    spec = task(base.task)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if command:
        (out / "command.txt").write_text(command + "\n")
    save_yaml(base, out / "config.yaml")
    pool = shared_pool(base, arms, log)
    log(f"{spec.name}: {len(pool)} complexes every arm serves; arms {arms}; encoders {encoders}; seeds {seeds}; "
        f"split {base.data.split}" + (f" ({base.data.folds} folds)" if base.data.split == "kfold" else ""))
    runs = []
    for seed in range(seeds):
        for encoder in encoders:
            for arm in arms:
                cfg = copy.deepcopy(base)
                cfg.model.encoder, cfg.data.plm, cfg.train.seed = encoder, arm, seed
                cfg.data.split_seed = seed if split_seed == "seed" else int(split_seed)
                cfg.data.ids = pool
                runs.append((cfg, out / "runs" / f"{encoder}_{arm}_seed{seed}"))
    busy = []
    for cfg, run_dir in runs:  # runs another worker holds are left to it, then waited for
        try:
            train(cfg, run_dir, progress, log, overwrite, wait=False)
            _report(spec, cfg, run_dir, log)
        except RunBusy:
            busy.append((cfg, run_dir))
    for cfg, run_dir in busy:
        train(cfg, run_dir, progress, log, wait=True)
        _report(spec, cfg, run_dir, log)
    rows = [r for _, run_dir in runs for r in run_rows(spec, run_dir)]
    write_comparison(spec, rows, out)
    return rows


def _report(spec, cfg, run_dir: Path, log: Callable) -> None:
    got = run_rows(spec, run_dir)
    log(f"{cfg.model.encoder} / {cfg.data.plm} / seed {cfg.train.seed}: " + ", ".join(
        f"{m} {sum(r[m] for r in got) / len(got):.4f}" for m in spec.columns))


def _items(spec) -> Callable[[dict], dict]:
    def read(row: dict) -> dict:
        return {i["item"]: [float(i[c]) for c in spec.gain.columns] for i in read_items(Path(row["run"]) / "items.csv")}

    return read


def write_comparison(spec, rows: list[dict], out: Path) -> None:
    """results.csv, summary.md / summary.csv, gains.csv, figure.png (the task's) and gains.png."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out / "results.csv")
    table, summary = summary_lines(rows, spec.columns)
    seeds = len({r["seed"] for r in rows})
    folds = len({r["fold"] for r in rows})
    lines = [f"{spec.name}: test metrics of {seeds} seed(s) × {folds} fold(s) per arm, as mean ± sd over folds "
             "(within a seed, averaged over seeds) ± sd over seeds (of the fold means); – where there is one.", "",
             *table]
    first, lower = next(iter(spec.columns.items()))
    g = spec.gain
    lines += ["", f"Each arm's {g.name} over its test items (folds pooled; mean over seeds), 95 % bootstrap interval "
              "over the items:", "", *interval_lines(rows, _items(spec), g.name, g.statistic)]
    gains_table, gains = gain_lines(rows, spec.columns, _items(spec), g.name, g.statistic, g.higher_is_better)
    if gains:
        lines += ["", "Paired change with the PLM over no PLM (same encoder, seed and fold; sign: positive = better), "
                  f"and the {g.name} gain with a 95 % bootstrap interval over the test items (2,000 resamples, one "
                  "resample shared by all seeds and both arms):", "", *gains_table]
        _write_csv(gains, out / "gains.csv")
        plot_gains(rows, gains, first, out / "gains.png", lower_is_better=lower)
    notes = spec.notes(rows)
    if notes:
        lines += ["", *notes]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    _write_csv(summary, out / "summary.csv")
    spec.figure(rows, out / "figure.png")


def _write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
