"""Structure weights (global or predicted per input), the diversity loss, and derived structures.

Structure logits have the shape (B, cells, edges, ops). While searching they become softmax weights; at
test time each input gets its argmax structure with ``zero`` excluded (the official code of Li et al.
dropped that exclusion, and its test branch crashed; both are avoided here). A derived structure is a
plain record (one operation per edge), exported as JSON and rebuilt as a fixed network.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .cell import ZERO, cell_edges


class GlobalStructure(nn.Module):
    """DARTS: one logit per (cell, edge, operation), shared by every input."""

    def __init__(self, in_dim: int, n_cells: int, n_edges: int, n_ops: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(n_cells, n_edges, n_ops))

    def forward(self, descriptor: torch.Tensor) -> torch.Tensor:
        return self.alpha.expand(descriptor.shape[0], *self.alpha.shape)


class PredictedStructure(nn.Module):
    """Li et al.: a Linear on the input's global descriptor predicts its logits. Zero-initialised (weight and
    bias), so the search starts from the uniform mixture for every input."""

    def __init__(self, in_dim: int, n_cells: int, n_edges: int, n_ops: int):
        super().__init__()
        self.shape = (n_cells, n_edges, n_ops)
        self.linear = nn.Linear(in_dim, n_cells * n_edges * n_ops)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, descriptor: torch.Tensor) -> torch.Tensor:
        return self.linear(descriptor).view(descriptor.shape[0], *self.shape)


PREDICTORS = {"global": GlobalStructure, "adaptive": PredictedStructure}


def structure_weights(logits: torch.Tensor, names: Sequence[str], derive: bool = False,
                      exclude: Sequence[str] = (ZERO,), gumbel: float = 0.0) -> torch.Tensor:
    """Weights (..., ops) from logits (..., ops): the softmax; with ``derive`` the one-hot argmax among the
    operations not in ``exclude``; with ``gumbel`` = τ > 0 a straight-through Gumbel-softmax sample among them
    (GDAS): one-hot y = onehot(argmax(l + g)) forward, the gradient of softmax((l + g) / τ) backward,
    g ~ Gumbel(0, 1) — one operation per edge in training, as at test."""
    if not derive and not gumbel:
        return F.softmax(logits, dim=-1)
    banned = torch.tensor([n in exclude for n in names], device=logits.device)
    if bool(banned.all()):
        raise InputError(f"every candidate operation is excluded: {list(names)}")
    logits = logits.masked_fill(banned, float("-inf"))
    if derive:
        return F.one_hot(logits.argmax(dim=-1), len(names)).to(logits.dtype)
    return F.gumbel_softmax(logits, tau=gumbel, hard=True, dim=-1)


def diversity_loss(weights: torch.Tensor) -> torch.Tensor:
    """Var over operations of each operation's total weight over all edges, averaged over inputs: low when
    the structure uses many operations, high when it collapses onto one."""
    return weights.sum(dim=(1, 2)).var(dim=-1).mean()


@dataclass
class Structure:
    """One operation per edge of every cell (``cells[c][e]``), edges as in :func:`cell_edges`."""

    steps: int
    cells: list[list[str]]

    @property
    def edges(self) -> list[tuple[int, int]]:
        return cell_edges(self.steps)

    def candidates(self) -> list[list[list[str]]]:
        """Per cell, per edge, the single-name candidate list of a fixed cell."""
        return [[[op] for op in cell] for cell in self.cells]

    def usage(self) -> Counter:
        return Counter(op for cell in self.cells for op in cell)

    def to_dict(self) -> dict:
        return {"steps": self.steps, "edges": [list(e) for e in self.edges], "cells": self.cells}

    @classmethod
    def from_dict(cls, d: dict) -> "Structure":
        s = cls(int(d["steps"]), [list(map(str, c)) for c in d["cells"]])
        n = len(s.edges)
        bad = [i for i, c in enumerate(s.cells) if len(c) != n]
        if bad:
            raise InputError(f"cells {bad} do not have {n} edges (steps {s.steps})")
        return s

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "Structure":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: not a derived structure ({e})") from None

    @staticmethod
    def uniform(op: str, steps: int, n_cells: int = 1) -> "Structure":
        """Every edge the same operation: the single-operation baselines."""
        return Structure(steps, [[op] * len(cell_edges(steps)) for _ in range(n_cells)])


def derive(weights: torch.Tensor, names: Sequence[str], steps: int) -> list[Structure]:
    """Structures of a batch from derived (one-hot) weights (B, cells, edges, ops)."""
    idx = weights.argmax(dim=-1).cpu().tolist()
    return [Structure(steps, [[names[k] for k in cell] for cell in item]) for item in idx]
