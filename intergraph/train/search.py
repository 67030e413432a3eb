"""Training with a structure search: the Lightning module shared by every searchable model.

Modes:
- ``alternate`` (Li et al.): one stream of training batches, both on task loss + diversity loss. With
  ``interleave="both"`` (the default) every batch updates the network weights and then, after warm-up, the
  structure parameters, so a searched model gets as many weight updates as a fixed one; ``"split"`` is the
  official code's schedule (even batches the weights, odd batches the structure: half the weight updates);
- ``darts1`` / ``darts2``: DARTS bilevel, first or second order; the training set is split in two halves, each
  step updates the structure on a batch of the second half, then the weights on a batch of the first;
- ``fixed``: no structure parameters (a derived or single-operation structure): weights only;
- ``derived``: a searched model whose structure is frozen; the weights are trained with each input's derived
  (argmax) structure, as it will be used at test time (closes the gap between the softmax mixture seen during
  the search and the one-hot structure of the test).
Warm-up epochs train the weights alone. Validation uses each input's derived (argmax) structure, as at test
time. The model supplies ``structure_parameters()``, ``weight_parameters()`` and returns an output with
``diversity``; the task supplies loss, predictions and metrics (as for :class:`TaskModule`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import InputError
from ..search.bilevel import structure_gradient
from .config import TrainConfig
from .loop import TaskModule

MODES = ("alternate", "darts1", "darts2", "fixed", "derived")


@dataclass
class SearchConfig:
    mode: str = "alternate"
    weight_optimizer: str = "sgd"  # sgd (momentum 0.9, as the paper) or adam
    weight_lr: float = 0.01        # the paper: SGD lr 0.01, weight decay 1e-4
    weight_decay: float = 1e-4
    structure_lr: float = 1e-4     # Adam (the paper: lr 1e-4, weight decay 1e-3)
    structure_weight_decay: float = 1e-3
    diversity_weight: float = 0.1
    warmup_epochs: int = 0
    interleave: str = "both"       # alternate mode: "both" (weights then structure on every batch) or "split"
    schedule: str = "cosine"       # weights' learning rate: "cosine" over the epochs, or "plateau" (the paper:
                                   # times TrainConfig.plateau_factor after plateau_patience epochs without a
                                   # better validation TrainConfig.monitor)

    def __post_init__(self):
        if self.schedule not in ("cosine", "plateau"):
            raise InputError(f"schedule must be cosine or plateau, not {self.schedule!r}")
        if self.interleave not in ("both", "split"):
            raise InputError(f"interleave must be both or split, not {self.interleave!r}")
        if self.weight_optimizer not in ("sgd", "adam"):
            raise InputError(f"weight optimizer must be sgd or adam, not {self.weight_optimizer!r}")
        if self.mode not in MODES:
            raise InputError(f"search mode must be one of {MODES}, not {self.mode!r}")


class SearchModule(TaskModule):
    """The shared task module (validation, metrics) with hand-written optimisation steps."""

    def __init__(self, model: torch.nn.Module, task, cfg: TrainConfig, search: SearchConfig):
        super().__init__(model, task, cfg)
        self.search = search
        self.automatic_optimization = False
        if search.mode != "fixed" and not model.searchable:
            raise InputError(f"mode {search.mode!r} needs a searchable model (adaptive or global structure)")

    def objective(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(batch[0], derive_structure=self.search.mode == "derived")
        task = self.task.loss(out, batch)
        return task + self.search.diversity_weight * out.diversity, task

    def training_step(self, batch, batch_idx):
        opts = self.optimizers()
        opt_w, opt_s = opts if isinstance(opts, list) else (opts, None)
        structure_turn = opt_s is not None and self.current_epoch >= self.search.warmup_epochs
        mode = self.search.mode
        if mode in ("darts1", "darts2"):
            train, held = batch["train"], batch["search"]
            if structure_turn:
                xi = opt_w.param_groups[0]["lr"] if mode == "darts2" else 0.0
                structure_gradient(lambda b: self.objective(b)[0], self.manual_backward,
                                   self.model.weight_parameters(), self.model.structure_parameters(), train, held, xi)
                opt_s.step()
            batch = train
            structure_turn = False
        elif mode == "alternate" and self.search.interleave == "split":
            structure_turn = structure_turn and batch_idx % 2 == 1
        elif mode == "alternate" and structure_turn:  # both: the weights first, then the structure
            task = self._step(batch, opt_w, opt_w, opt_s)
            self._step(batch, opt_s, opt_w, opt_s)
            self.log("train/loss", task, prog_bar=True, batch_size=batch[1].shape[0], on_epoch=True, on_step=False)
            return
        task = self._step(batch, opt_s if structure_turn else opt_w, opt_w, opt_s)
        self.log("train/loss", task, prog_bar=True, batch_size=batch[1].shape[0], on_epoch=True, on_step=False)

    def _step(self, batch, opt, opt_w, opt_s) -> torch.Tensor:
        """One optimiser step of ``opt`` on the batch's objective; returns the task loss."""
        loss, task = self.objective(batch)
        opt_w.zero_grad()
        if opt_s is not None:
            opt_s.zero_grad()
        self.manual_backward(loss)
        if self.cfg.gradient_clip:
            self.clip_gradients(opt, gradient_clip_val=self.cfg.gradient_clip, gradient_clip_algorithm="norm")
        opt.step()
        return task.detach()

    def on_validation_epoch_end(self):
        """After the metrics: the plateau schedule's step on the monitored validation metric."""
        super().on_validation_epoch_end()
        if self.search.schedule == "plateau" and not self.trainer.sanity_checking:
            # this epoch's task metric (the per-step val/loss is not aggregated yet at this point)
            value = self.val_metrics.get(self.cfg.monitor)
            if value is None:
                raise InputError(f"the plateau schedule monitors {self.cfg.monitor!r}, which validation does not "
                                 f"report at the end of an epoch (it reports {sorted(self.val_metrics)})")
            # the mean over ranks, as the logged value (sync_dist): every rank takes the same schedule step
            value = self.trainer.strategy.reduce(torch.tensor(float(value), device=self.device), reduce_op="mean")
            self.lr_schedulers().step(float(value))

    def on_train_epoch_start(self):
        """Cosine decay of the weights' learning rate, a function of the epoch alone (so a resumed run
        continues the schedule exactly, whenever the checkpoint was written); the plateau schedule is stepped
        after validation instead. A model with ``set_epoch`` is told the epoch (e.g. a routed model's shared
        epochs)."""
        if hasattr(self.model, "set_epoch"):
            self.model.set_epoch(self.current_epoch)
        if self.search.schedule != "cosine":
            return
        opts = self.optimizers()
        opt_w = opts[0] if isinstance(opts, list) else opts
        scale = 0.5 * (1 + math.cos(math.pi * self.current_epoch / max(self.cfg.max_epochs, 1)))
        for group in opt_w.param_groups:
            group["lr"] = self.search.weight_lr * scale

    def validation_output(self, batch):
        return self.model(batch[0], derive_structure=self.model.searchable)

    def configure_optimizers(self):
        s = self.search
        params = self.model.weight_parameters()
        opt_w = torch.optim.SGD(params, lr=s.weight_lr, momentum=0.9, weight_decay=s.weight_decay) \
            if s.weight_optimizer == "sgd" else torch.optim.Adam(params, lr=s.weight_lr, weight_decay=s.weight_decay)
        opts = [opt_w]
        if s.mode not in ("fixed", "derived"):
            opts.append(torch.optim.Adam(self.model.structure_parameters(), lr=s.structure_lr, betas=(0.5, 0.999),
                                         weight_decay=s.structure_weight_decay))
        if s.schedule == "plateau":  # stepped by hand after each validation; checkpointed with the optimisers
            return opts, [torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt_w, mode=self.cfg.mode, factor=self.cfg.plateau_factor, patience=self.cfg.plateau_patience)]
        return opts if len(opts) > 1 else opt_w
