"""The one experiment skeleton every protein task and the video search run through.

    claim the run folder for the config  ->  (finished? its metrics)  ->  seed  ->  build data + model  ->  count
    parameters  ->  fit (resumes from last.ckpt)  ->  rank 0 only: best checkpoint (weights_only)  ->
    evaluate  ->  metrics.json

A task supplies :class:`Experiment`: the Lightning module, its loaders, the parameter counts to report and
``evaluate(model) -> dict`` (test metrics; it writes its own prediction files into the run folder).

A run folder being trained holds ``.lock`` (process id, host, start time): a second process asked to train the
same folder gets :class:`RunBusy` instead of writing over it, so the same command can run on several workers
(each takes the runs no one holds; see :func:`intergraph.protein.run.train`). A lock left by a process that
died on this host is taken over.
"""
from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import lightning as L
import torch

from ..errors import IntergraphError
from .config import claim_run_dir
from .loop import fit, load_checkpoint, write_metrics

METRICS = "metrics.json"
LOCK = ".lock"


class RunBusy(IntergraphError):
    """Another live process is training this run folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def run_lock(run_dir: Path):
    """Hold ``run_dir/.lock`` while training; :class:`RunBusy` when a live process holds it. DDP ranks other
    than 0 (``LOCAL_RANK`` > 0) train beside rank 0 and take no lock."""
    if int(os.environ.get("LOCAL_RANK", "0")) > 0:
        yield
        return
    path = Path(run_dir) / LOCK
    me = f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S')}"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            owner = path.read_text().split() if path.exists() else []
            if owner and owner[1:2] == [socket.gethostname()] and owner[0].isdigit() and not _alive(int(owner[0])):
                path.unlink(missing_ok=True)  # its trainer died: take the run over (it resumes from last.ckpt)
                continue
            raise RunBusy(f"{run_dir} is being trained by process {' '.join(owner[:2]) or '?'} (since "
                          f"{owner[2] if len(owner) > 2 else '?'}); remove {path} if that process is gone") from None
    else:
        raise RunBusy(f"{run_dir}: could not take {path}")
    try:
        os.write(fd, me.encode())
        os.close(fd)
        yield
    finally:
        path.unlink(missing_ok=True)


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
    run_dir = Path(run_dir)
    if (run_dir / LOCK).exists() and (run_dir / "config.yaml").exists():
        with run_lock(run_dir):  # RunBusy before touching a folder another process is training
            pass
    run_dir = claim_run_dir(cfg, run_dir, overwrite)
    done = run_dir / METRICS
    if done.exists():
        return json.loads(done.read_text())
    with run_lock(run_dir):
        if done.exists():  # finished by another process meanwhile
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


def wait_for(run_dir: Path, poll: float = 30.0, log: Callable[[str], None] = print) -> dict:
    """The metrics of a run another process is training, once it has finished; ``None`` when its trainer
    stopped without finishing (the lock is gone, no metrics): then the caller trains it."""
    run_dir = Path(run_dir)
    log(f"waiting for {run_dir} (trained by another process)")
    while not (run_dir / METRICS).exists():
        if not (run_dir / LOCK).exists():
            return None
        time.sleep(poll)
    return json.loads((run_dir / METRICS).read_text())
