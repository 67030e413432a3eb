"""Drawing of derived cells with matplotlib alone (no graphviz binary): states on a line, one labelled arc per
edge whose operation is not ``zero``, dashed arcs from the intermediates into the concatenated output."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from .cell import ZERO  # noqa: E402
from .structure import Structure  # noqa: E402

COLOURS = plt.get_cmap("tab10")


def op_colours(names: Sequence[str]) -> dict[str, tuple]:
    return {n: COLOURS(i % 10) for i, n in enumerate(names)}


def draw_cell(ax, structure: Structure, cell: int, colours: dict[str, tuple], title: str = "") -> None:
    steps = structure.steps
    xs = list(range(steps + 2))  # input, intermediates, output
    labels = ["in"] + [str(i) for i in range(1, steps + 1)] + ["out"]
    for x, lab in zip(xs, labels):
        ax.add_patch(plt.Circle((x, 0), 0.18, color="#dddddd", zorder=3))
        ax.text(x, 0, lab, ha="center", va="center", zorder=4, fontsize=9)
    for e, (src, dst) in enumerate(structure.edges):
        op = structure.cells[cell][e]
        if op == ZERO:
            continue
        rad = -0.35 - 0.12 * (dst - src) if (e % 2) else 0.35 + 0.12 * (dst - src)
        arrow = FancyArrowPatch((src + 0.18, 0), (dst - 0.18, 0), connectionstyle=f"arc3,rad={rad}",
                                arrowstyle="-|>", mutation_scale=10, color=colours.get(op, "k"), lw=1.6)
        ax.add_patch(arrow)
        mid = (src + dst) / 2
        ax.text(mid, -rad * (dst - src) / 2 * 1.0, op, ha="center", va="center", fontsize=7,
                color=colours.get(op, "k"), bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5))
    for i in range(1, steps + 1):
        ax.add_patch(FancyArrowPatch((i + 0.18, 0), (steps + 1 - 0.18, 0), connectionstyle="arc3,rad=0.0"
                                     if i == steps else f"arc3,rad={0.15 * (steps + 1 - i)}",
                                     arrowstyle="-|>", mutation_scale=8, color="#999999", lw=0.8, ls="--"))
    ax.set_xlim(-0.5, steps + 1.5)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)


def draw_structures(structures: Sequence[Structure], titles: Sequence[str], path: str | Path,
                    names: Sequence[str] | None = None) -> Path:
    """One row per structure (and per cell within it); saved as PNG."""
    names = list(names) if names else sorted({op for s in structures for c in s.cells for op in c})
    colours = op_colours(names)
    rows = [(s, c, f"{t}" + (f" — cell {c + 1}" if len(s.cells) > 1 else "")) for s, t in zip(structures, titles)
            for c in range(len(s.cells))]
    fig, axes = plt.subplots(len(rows), 1, figsize=(6.5, 2.3 * len(rows)), squeeze=False)
    for ax, (s, c, t) in zip(axes[:, 0], rows):
        draw_cell(ax, s, c, colours, t)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
