"""On-disk cache of processed graphs keyed by content, never by file name or time stamp.

A key combines the sha256 of every input file with the key of the configuration that processed it, so
editing a file or changing a featurizer setting can never return a stale entry.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import torch

from .io import atomic_save


def file_sha256(path: str | Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


class GraphCache:
    """Entries are ``torch.save``-d plain dicts under ``root/<namespace>/<config key>/<content key>.pt``."""

    def __init__(self, root: str | Path, namespace: str):
        self.root = Path(root) / namespace

    def key(self, files: list[str | Path], config_key: str) -> tuple[str, str]:
        content = hashlib.sha256("|".join(file_sha256(f) for f in files).encode()).hexdigest()[:32]
        return config_key, content

    def path(self, key: tuple[str, str]) -> Path:
        return self.root / key[0] / f"{key[1]}.pt"

    def get_or_compute(self, files: list[str | Path], config_key: str, compute: Callable[[], dict]) -> dict[str, Any]:
        path = self.path(self.key(files, config_key))
        if path.exists():
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # a damaged entry is recomputed, not trusted
                path.unlink(missing_ok=True)
        value = compute()
        atomic_save(value, path)
        return value
