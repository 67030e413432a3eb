"""Shared fixtures: where the real data lives, and how its absence is treated (skip here, failure under CI)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)


def _data_root() -> Path | None:
    """INTERGRAPH_DATA when set (a wrong value is an error, never a silent fall back), else ../shared/data."""
    env = os.environ.get("INTERGRAPH_DATA")
    if env:
        if not (Path(env) / "README.md").exists():
            pytest.fail(f"INTERGRAPH_DATA={env} is not the shared data folder (no README.md there)")
        return Path(env)
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return default if (default / "README.md").exists() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None:
        msg = "real data not found: set INTERGRAPH_DATA to the shared data folder (../shared/data)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{msg} — under CI a missing data folder is a failure, not a skip")
        pytest.skip(msg)
    return root


@pytest.fixture(scope="session")
def db5_root(data_root: Path) -> Path:
    path = data_root / "db5"
    assert (path / "structures").is_dir(), f"{path} lacks structures/"
    return path
