"""Saving and loading graphs as plain dicts of tensors and strings (safe to load with ``weights_only``)."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch_geometric.data import Data


def atomic_save(obj, path: str | Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_graph(data: Data, path: str | Path) -> None:
    atomic_save(data.to_dict(), path)


def load_graph(path: str | Path) -> Data:
    """Load a graph written by :func:`save_graph` without unpickling arbitrary objects."""
    return Data.from_dict(torch.load(path, map_location="cpu", weights_only=True))
