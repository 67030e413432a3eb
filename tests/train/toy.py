"""A small regression problem for testing the training layer (also run as a script for the DDP test)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from intergraph.train.config import TrainConfig
from intergraph.train.loop import EpochShuffle, TaskModule, fit
from intergraph.train.metrics import regression_metrics


class ToyTask:
    def loss(self, output, batch):
        return nn.functional.mse_loss(output, batch[1])

    def predictions(self, output, batch):
        return {"pred": output.detach().cpu().numpy().ravel(), "target": batch[1].cpu().numpy().ravel()}

    def metrics(self, c):
        return regression_metrics(c["pred"], c["target"])


class ToyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))

    def forward(self, batch):
        return self.net(batch[0])


def toy_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.1 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def run(run_dir, max_epochs, cfg_overrides=None, progress=False):
    settings = dict(max_epochs=max_epochs, lr=1e-2, batch_size=16, seed=7, accelerator="cpu", devices=1,
                    early_stop_patience=100)
    cfg = TrainConfig(**{**settings, **(cfg_overrides or {})})
    torch.manual_seed(0)
    module = TaskModule(ToyModel(), ToyTask(), cfg)
    train, val = toy_data(), toy_data(32, seed=1)
    loader = DataLoader(train, batch_size=cfg.batch_size, sampler=EpochShuffle(len(train), cfg.seed))
    trainer = fit(module, loader, DataLoader(val, batch_size=32), run_dir, progress=progress)
    return module, trainer


if __name__ == "__main__":  # DDP: python toy.py RUN_DIR -> each rank writes its final weights
    out = Path(sys.argv[1])
    module, trainer = run(out, 3, {"strategy": "ddp", "devices": 2})
    torch.save({k: v.cpu() for k, v in module.state_dict().items()}, out / f"weights_rank{trainer.global_rank}.pt")
    np.save(out / f"epochs_rank{trainer.global_rank}.npy", np.array([trainer.current_epoch]))
