"""The one experiment skeleton every protein task and the video search run through.

    claim the run folder for the config  ->  (finished? its metrics)  ->  seed  ->  build data + model  ->  count
    parameters  ->  fit (resumes from last.ckpt)  ->  rank 0 only: best checkpoint (weights_only)  ->
    evaluate  ->  metrics.json

A task supplies :class:`Experiment`: the Lightning module, its loaders, the parameter counts to report and
``evaluate(model) -> dict`` (test metrics; it writes its own prediction files into the run folder).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import lightning as L
import torch

from .config import claim_run_dir
from .loop import fit, load_checkpoint, write_metrics

METRICS = "metrics.json"


@dataclass
class Experiment:
    """What a task hands to :func:`run_experiment`."""

    module: L.LightningModule
    train: Any                      # a DataLoader, or a dict of loaders (DARTS' two halves)
    val: Any
    evaluate: Callable[[torch.nn.Module], dict]
    parameters: dict[str, int] = field(default_factory=dict)
    describe: str = ""              # one line for the log (data sizes, parameter counts)


def run_experiment(cfg, run_dir: str | Path, build: Callable[[Path], Experiment], progress: bool = True,
                   log: Callable[[str], None] = print, overwrite: bool = False) -> dict:
    """Train (or resume) one run of ``cfg`` in ``run_dir``; returns its metrics (with ``parameters`` and
    ``epochs``). A finished run folder holding the same config returns its stored metrics unchanged; a
    folder holding another config is refused (see :func:`claim_run_dir`). Only rank 0 evaluates and writes
    metrics (other DDP ranks return ``{}``)."""
    run_dir = claim_run_dir(cfg, run_dir, overwrite)
    done = run_dir / METRICS
    if done.exists():
        return json.loads(done.read_text())
    # the model's initial weights depend on the seed alone, not on what ran before in this process
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    exp = build(run_dir)
    if exp.describe:
        log(exp.describe)
    trainer = fit(exp.module, exp.train, exp.val, run_dir, progress)
    if trainer.global_rank != 0:
        return {}
    best = run_dir / "checkpoints" / "best.ckpt"
    load_checkpoint(exp.module, best if best.exists() else run_dir / "checkpoints" / "last.ckpt")
    model = getattr(exp.module, "model", exp.module).cpu().eval()
    results = {"parameters": exp.parameters, "epochs": trainer.current_epoch, **exp.evaluate(model)}
    write_metrics(run_dir, "metrics", results)
    return results
