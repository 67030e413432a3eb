"""The shared training layer: a Lightning module around any model + task, and ``fit`` with the house rules.

Adam with ReduceLROnPlateau on the monitored metric, early stopping on it, best and last checkpoints, CSV
and TensorBoard logs, rich progress bars, seeds per epoch (data order and dropout), so a run killed and
resumed from ``last.ckpt`` continues exactly as an uninterrupted one would. Metrics are appended to
``metrics.csv`` (never overwritten on resume). Works unchanged on CPU, one
GPU, or DDP (Lightning's strategies): the structure of the model is ordinary registered parameters.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Protocol

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from torch.utils.data import Sampler

from .config import TrainConfig


class Task(Protocol):
    """What a task supplies to the training layer."""

    def loss(self, output: Any, batch: Any) -> torch.Tensor: ...

    def predictions(self, output: Any, batch: Any) -> dict[str, np.ndarray]: ...

    def metrics(self, collected: dict[str, np.ndarray]) -> dict[str, float]: ...


class EpochShuffle(Sampler[int]):
    """A permutation that depends on (seed, epoch) alone, so resumed runs see the same order."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


class BatchSeed(Callback):
    """Reseed torch before every training batch from (seed, epoch, batch, rank): dropout and augmentation
    no longer depend on what else drew random numbers, so a resumed run reproduces the original exactly."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        torch.manual_seed(((self.seed * 1_000_003 + trainer.current_epoch) * 100_003 + batch_idx) * 101
                          + trainer.global_rank)


class StopAtEpoch(Callback):
    """Stop after epoch ``stop_epoch`` (checked at epoch ends) as if interrupted, keeping the checkpoints: a
    later run with the same config resumes as if never stopped."""

    def __init__(self, stop_epoch: int = 0):
        self.stop_epoch = stop_epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if self.stop_epoch and trainer.current_epoch + 1 >= self.stop_epoch:
            trainer.should_stop = True


class CSVMetrics(Callback):
    """Append one row per epoch (epoch, step, lr and every logged metric) to ``metrics.csv``."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.global_rank != 0 or trainer.sanity_checking:
            return
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step,
               "lr": trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else ""}
        row.update({k: round(float(v), 6) for k, v in sorted(trainer.callback_metrics.items())})
        import csv

        new = not self.path.exists()
        fields = list(row) if new else next(csv.reader(open(self.path)))
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)


class TaskModule(L.LightningModule):
    def __init__(self, model: torch.nn.Module, task: Task, cfg: TrainConfig):
        super().__init__()
        self.model, self.task, self.cfg = model, task, cfg
        self._val: list[dict[str, np.ndarray]] = []
        self.val_metrics: dict[str, float] = {}  # the last validation epoch's metrics

    def forward(self, batch):
        return self.model(batch)

    def training_step(self, batch, batch_idx):
        loss = self.task.loss(self.model(batch), batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=self.cfg.batch_size, on_epoch=True, on_step=False)
        return loss

    def validation_output(self, batch):
        """The model's output on a validation batch (a searched model uses its derived structures)."""
        return self.model(batch)

    def validation_step(self, batch, batch_idx):
        out = self.validation_output(batch)
        self.log("val/loss", self.task.loss(out, batch), prog_bar=True, batch_size=self.cfg.batch_size,
                 sync_dist=True)
        self._val.append(self.task.predictions(out, batch))

    def on_validation_epoch_end(self):
        if not self._val:
            return
        collected = {k: np.concatenate([v[k] for v in self._val]) for k in self._val[0]}
        self._val = []
        self.val_metrics = {f"val/{name}": float(value) for name, value in self.task.metrics(collected).items()}
        for name, value in self.val_metrics.items():
            self.log(name, value, prog_bar=name[4:] in ("auroc", "rmse", "top1"), sync_dist=True)

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=self.cfg.mode, factor=self.cfg.plateau_factor,
                                                           patience=self.cfg.plateau_patience)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": self.cfg.monitor}}


def make_trainer(run_dir: Path, cfg: TrainConfig, progress: bool = True, manual: bool = False) -> L.Trainer:
    """``manual``: the module optimises by hand (and clips its own gradients)."""
    import logging

    from lightning.pytorch.loggers import TensorBoardLogger

    # Lightning's start-up chatter (devices found, tips) is INFO on this logger; keep warnings
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    callbacks = [
        ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor=cfg.monitor, mode=cfg.mode,
                        save_top_k=1, enable_version_counter=False),
        # Lightning's save_last only refreshes last.ckpt when a new best is saved: a separate, unmonitored
        # checkpoint holds the latest epoch, which is what a resume needs
        ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", monitor=None, save_top_k=1,
                        enable_version_counter=False),
        EarlyStopping(monitor=cfg.monitor, mode=cfg.mode, patience=cfg.early_stop_patience),
        LearningRateMonitor(),
        BatchSeed(cfg.seed),
        StopAtEpoch(cfg.stop_epoch),
        CSVMetrics(run_dir / "metrics.csv"),
    ]
    if progress and sys.stderr.isatty():
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar())
    loggers = [TensorBoardLogger(run_dir, name="", version="tensorboard")]
    on_gpu = cfg.accelerator in ("gpu", "cuda") or (cfg.accelerator == "auto" and torch.cuda.is_available())
    return L.Trainer(
        default_root_dir=run_dir, max_epochs=cfg.max_epochs, accelerator=cfg.accelerator, devices=cfg.devices,
        strategy=cfg.strategy, callbacks=callbacks, logger=loggers, log_every_n_steps=1,
        # bit-exact on CPU; on GPUs some scatter kernels have no deterministic version: warn, don't fail
        deterministic="warn" if on_gpu else True,
        gradient_clip_val=None if manual else (cfg.gradient_clip or None), enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def fit(module: L.LightningModule, train_loader, val_loader, run_dir: str | Path, progress: bool = True) -> L.Trainer:
    """Train, resuming from ``run_dir/checkpoints/last.ckpt`` when it exists."""
    run_dir = Path(run_dir)
    L.seed_everything(module.cfg.seed, workers=True, verbose=False)
    trainer = make_trainer(run_dir, module.cfg, progress, manual=not module.automatic_optimization)
    last = run_dir / "checkpoints" / "last.ckpt"
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if last.exists() else None)
    return trainer


def write_metrics(run_dir: Path, name: str, metrics: dict) -> None:
    (Path(run_dir) / f"{name}.json").write_text(json.dumps(metrics, indent=1, default=float))


def load_checkpoint(module: torch.nn.Module, path: str | Path, prefix: str = "") -> torch.nn.Module:
    """Weights of a Lightning checkpoint into ``module``, read without unpickling arbitrary objects
    (``weights_only``); with ``prefix`` (e.g. ``"model."``) only those entries, the prefix removed."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)["state_dict"]
    if prefix:
        state = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    module.load_state_dict(state)
    return module
