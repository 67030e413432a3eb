"""Typed run configuration, saved as YAML beside the checkpoints and loaded back unchanged."""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path

import yaml


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping shared by every task (defaults: the PLM paper's protocol)."""

    max_epochs: int = 50
    lr: float = 1e-4
    weight_decay: float = 0.0
    plateau_factor: float = 0.6
    plateau_patience: int = 5
    early_stop_patience: int = 10
    monitor: str = "val/loss"
    mode: str = "min"
    batch_size: int = 8
    seed: int = 0
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    num_workers: int = 0
    max_minutes: float = 0.0  # wall-time cap per run; 0 = none
    stop_epoch: int = 0       # stop after this many epochs as if interrupted (schedules follow max_epochs); 0 = none
    gradient_clip: float = 1.0


def to_dict(cfg) -> dict:
    return asdict(cfg)


def from_dict(cls, data: dict):
    """Build a (nested) dataclass from a plain dict, refusing unknown keys."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown settings {sorted(unknown)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        kwargs[key] = from_dict(hint, value) if is_dataclass(hint) and isinstance(value, dict) else value
    return cls(**kwargs)


def save_yaml(cfg, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def load_yaml(cls, path: str | Path):
    return from_dict(cls, yaml.safe_load(Path(path).read_text()) or {})


def claim_run_dir(cfg, run_dir: str | Path) -> Path:
    """Create ``run_dir`` for ``cfg`` (saved as config.yaml), or accept it when it holds the same config (a
    resume); a folder holding another config is refused rather than mixed."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.yaml"
    if path.exists() and load_yaml(type(cfg), path) != cfg:
        raise ValueError(f"{run_dir} holds a run with another config; choose another --out or delete it")
    save_yaml(cfg, path)
    return run_dir


__all__ = ["TrainConfig", "claim_run_dir", "dataclasses", "from_dict", "load_yaml", "save_yaml", "to_dict"]
