"""Mixed operations and cells of a differentiable operation search (DARTS-style), free of domain code.

An operation is any module called as ``op(x, ctx)``: ``x`` is a tensor whose first dimension is the batch
(one input per row, e.g. one video), ``ctx`` whatever the domain passes along (the video's background
nodes, layout, mask). A mixed operation returns Σ_o w_o · o(x, ctx) with per-input weights ``w`` (B, O).

A cell is a DAG with one input and ``steps`` intermediate nodes; intermediate node i receives one mixed
operation from the input and from every earlier intermediate node, and the cell's output concatenates the
intermediate nodes (width ``steps * C``). A derived, fixed structure is the same cell with one candidate
per edge and weight 1; edges whose operation is ``zero`` are left out.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import nn

ZERO = "zero"


def cell_edges(steps: int) -> list[tuple[int, int]]:
    """(source, target) state indices of a cell's edges; state 0 is the input, 1..steps the intermediates."""
    return [(src, dst + 1) for dst in range(steps) for src in range(dst + 1)]


class MixedOp(nn.Module):
    """Σ_o w_o · o(x, ctx) over the operations ``names`` (built by ``make_op``). Operations whose weight is
    exactly zero for every input of the batch and needs no gradient (a derived structure) are not evaluated,
    and ``zero`` never is: it contributes nothing and has no parameters."""

    def __init__(self, names: Sequence[str], make_op: Callable[[str], nn.Module]):
        super().__init__()
        self.names = list(names)
        self.ops = nn.ModuleDict({n: make_op(n) for n in self.names if n != ZERO})

    def forward(self, x: torch.Tensor, weights: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        if weights.shape != (x.shape[0], len(self.names)):
            raise ValueError(f"weights of shape {tuple(weights.shape)}, expected ({x.shape[0]}, {len(self.names)})")
        out = torch.zeros_like(x)
        for k, name in enumerate(self.names):
            w = weights[:, k]
            if name == ZERO or (not (torch.is_grad_enabled() and w.requires_grad) and not bool(w.any())):
                continue
            y = self.ops[name](x, ctx)
            out = out + w.view(-1, *([1] * (y.dim() - 1))) * y
        return out


class Cell(nn.Module):
    """One searchable (or fixed) cell.

    ``candidates``: one list of operation names shared by every edge, or one list per edge (a derived cell
    has one name per edge). ``make_op(name)`` builds a fresh operation; each edge owns its own parameters.
    """

    def __init__(self, make_op: Callable[[str], nn.Module], candidates: Sequence[str] | Sequence[Sequence[str]],
                 steps: int = 3):
        super().__init__()
        self.steps = steps
        self.edges = cell_edges(steps)
        per_edge = [list(c) for c in candidates] if candidates and not isinstance(candidates[0], str) \
            else [list(candidates)] * len(self.edges)
        if len(per_edge) != len(self.edges):
            raise ValueError(f"{len(per_edge)} candidate lists for {len(self.edges)} edges")
        self.candidates = per_edge
        self.mixed = nn.ModuleList(MixedOp(names, make_op) for names in per_edge)

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor], ctx: Any = None) -> torch.Tensor:
        """``weights[e]``: (B, len(candidates[e])) for edge e. Returns the concatenated intermediates."""
        states = [x]
        for dst in range(1, self.steps + 1):
            acc = torch.zeros_like(x)
            for e, (src, d) in enumerate(self.edges):
                if d == dst:
                    acc = acc + self.mixed[e](states[src], weights[e], ctx)
            states.append(acc)
        return torch.cat(states[1:], dim=-1)


class CellStack(nn.Module):
    """``n_cells`` cells in sequence; between two cells a Linear + LeakyReLU maps the concatenation
    (steps * C) back to C. The output has ``steps * C`` channels."""

    def __init__(self, make_op: Callable[[str], nn.Module], candidates, width: int, steps: int = 3,
                 n_cells: int = 1):
        super().__init__()
        cand = list(candidates) if _per_cell(candidates) else [candidates] * n_cells
        if len(cand) != n_cells:
            raise ValueError(f"{len(cand)} cell structures for {n_cells} cells")
        self.cells = nn.ModuleList(Cell(make_op, c, steps) for c in cand)
        self.joins = nn.ModuleList(nn.Sequential(nn.Linear(steps * width, width), nn.LeakyReLU())
                                   for _ in range(n_cells - 1))
        self.steps, self.width = steps, width
        self.n_edges = len(cell_edges(steps))

    def forward(self, x: torch.Tensor, weights: Sequence[Sequence[torch.Tensor]], ctx: Any = None) -> torch.Tensor:
        """``weights[c][e]``: the weights of edge e of cell c, (B, O)."""
        for c, cell in enumerate(self.cells):
            x = cell(x, weights[c], ctx)
            if c < len(self.joins):
                x = self.joins[c](x)
        return x


def _per_cell(candidates) -> bool:
    """True when ``candidates`` holds one per-edge list of lists per cell (a derived multi-cell structure)."""
    return bool(candidates) and not isinstance(candidates[0], str) and bool(candidates[0]) \
        and not isinstance(candidates[0][0], str)
