"""The interaction model on video graphs: channel reduction, a stack of searched (or fixed) cells of graph
operations, and a classifier on the mean object node and the mean background node (as in the paper).

Structures: ``adaptive`` (a zero-initialised Linear on the video's global background descriptor predicts every
edge's operation weights: one structure per video), ``global`` (DARTS: one α for all videos), ``fixed`` (a
derived :class:`Structure`, no structure parameters), ``mixture`` (every candidate but ``zero`` with equal
weight on every edge, kept at test: the capacity-matched non-adaptive reference) or ``routed`` (oracle
routing: each video's group, e.g. its scene family, picks a given fixed structure or the uniform mixture;
``shared_epochs`` first train every video through the uniform mixture of the routes' operations, as the
adaptive arm's warm-up does).

Shortcuts are off by default: layout enters node attention only (as the paper; ``layout_embedding`` adds it to
every object feature), and the classifier reads the pooled object nodes only (``head_descriptor`` also feeds it
the mean background node that the structure predictor reads, so the head could use the cue directly).

Heads: ``mean`` (the paper) reads h = mean over frames and nodes of the cell outputs, which is blind to the
direction of time whenever the operations are (every one but temporal convolution); ``temporal`` reads
[h, h₂ − h₁], h₁ and h₂ the means over the first and the second half of the frames, so "approach" and
"move away" (each other's time reversal) can be told apart. Shapes: nodes (B, T, N, C) -> (B, C) or (B, 2C).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from ..errors import InputError
from ..search.cell import ZERO, CellStack, cell_edges
from ..search.structure import PREDICTORS, Structure, derive, diversity_loss, structure_weights
from .graph import LAYOUT_DIM, VideoGraph
from .ops import OpSpace, candidates

HEADS = ("mean", "temporal")
MIXTURE = "mixture"  # a route: the uniform mixture of every candidate but zero


def _mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T, N, C) features, (B, T, N, 1) validity -> (B, C) mean over the valid nodes."""
    return (x * valid).sum(dim=(1, 2)) / valid.sum(dim=(1, 2)).clamp_min(1.0)


@dataclass
class VideoModelConfig:
    in_channels: int = 128          # backbone feature width
    width: int = 128                # graph node width (the paper: 256)
    frames: int = 8                 # temporal positions of the feature map
    nodes_per_frame: int = 4        # object node budget per frame (the paper: 10)
    background_per_frame: int = 49  # background grid cells per frame (7x7)
    classes: int = 11
    ops: str = "basic"              # preset ("basic", "paper") or comma-separated operation names
    steps: int = 3
    cells: int = 1
    structure: str = "adaptive"     # adaptive | global | fixed | mixture | routed
    fixed: Optional[dict] = None    # a Structure as a dict, for structure == "fixed"
    routes: Optional[list] = None   # routed: one Structure dict per group index (VideoGraph.group), or
                                    # "mixture": that group through the uniform mixture of every candidate
    shared_epochs: int = 0          # routed: first train this many epochs on the uniform mixture of the routes'
                                    # operations (every video through every operation: the adaptive arm's
                                    # warm-up, whose zero-initialised predictor gives the uniform mixture)
    kernel: int = 7
    temporal_padding: str = "same"  # temporal convolution over "same" (zero-padded) or "valid" windows (the paper)
    identity_dropout: float = 0.5
    layout_embedding: bool = False  # add a learned embedding of each node's 9-d layout to its features
    head_descriptor: bool = False   # feed the mean background node to the classifier too
    head: str = "mean"              # "mean" (the paper) or "temporal" (adds the second-half minus first-half mean)
    descriptor: str = "background"  # what the structure predictor reads: "background" (the paper: mean
                                    # background node) or "motion" (mean background and object nodes, and
                                    # their change from the first to the second half of the clip)
    dropout: float = 0.3            # before the classifier
    diversity_weight: float = 0.1
    gumbel: float = 0.0             # adaptive / global: train on straight-through Gumbel-softmax samples at this
                                    # temperature (one operation per edge, as at test: GDAS); 0 = softmax mixtures
    gumbel_from: int = 0            # the first epoch of those samples (softmax mixtures before, e.g. the warm-up)
    op_names: list = field(default_factory=list)  # filled in: the candidate list actually used


@dataclass
class VideoOutput:
    logits: torch.Tensor
    weights: Optional[torch.Tensor]  # (B, cells, edges, ops) structure weights, None for fixed structures
    diversity: torch.Tensor


class InteractionModel(nn.Module):
    def __init__(self, cfg: VideoModelConfig):
        super().__init__()
        self.cfg = cfg
        cfg.op_names = candidates(cfg.ops)
        space = OpSpace(cfg.width, cfg.frames, cfg.nodes_per_frame, cfg.background_per_frame, cfg.kernel,
                        cfg.identity_dropout, cfg.temporal_padding)
        for name in cfg.op_names:  # fail early, with the operation's name, on a typo
            if name != "zero":
                space(name)
        # backbone features come at any scale (a frozen, randomly initialised backbone gives tiny ones)
        self.reduce = nn.Sequential(nn.LayerNorm(cfg.in_channels), nn.Linear(cfg.in_channels, cfg.width),
                                    nn.LeakyReLU())
        self.layout = nn.Linear(LAYOUT_DIM, cfg.width) if cfg.layout_embedding else None
        if cfg.structure == "fixed":
            if not cfg.fixed:
                raise InputError("a fixed structure needs `fixed` (a derived structure)")
            fixed = Structure.from_dict(cfg.fixed)
            if fixed.steps != cfg.steps or len(fixed.cells) != cfg.cells:
                raise InputError(f"the structure has {len(fixed.cells)} cell(s) of {fixed.steps} steps, the model "
                                 f"{cfg.cells} cell(s) of {cfg.steps} steps")
            self.cells = CellStack(space, fixed.candidates(), cfg.width, cfg.steps, cfg.cells)
            self.predictor = None
        elif cfg.structure in ("mixture", "routed"):
            self.predictor = None
            if cfg.structure == "routed":
                if not cfg.routes:
                    raise InputError("a routed structure needs `routes` (one structure per group)")
                routes = [r if r == MIXTURE else Structure.from_dict(r) for r in cfg.routes]
                fixed = [r for r in routes if r != MIXTURE]
                if any(r.steps != cfg.steps or len(r.cells) != cfg.cells for r in fixed):
                    raise InputError(f"every route needs {cfg.cells} cell(s) of {cfg.steps} steps")
                used = {op for r in fixed for op in r.usage()}
                if len(fixed) < len(routes):  # a mixture route uses every candidate
                    used |= set(cfg.op_names)
                cfg.op_names = [ZERO] + sorted(used - {ZERO})
                table = torch.zeros(len(routes), cfg.cells, len(cell_edges(cfg.steps)), len(cfg.op_names))
                for g, r in enumerate(routes):
                    if r == MIXTURE:  # every candidate but zero, equally
                        table[g, ..., 1:] = 1.0 / (len(cfg.op_names) - 1)
                        continue
                    for c, cell in enumerate(r.cells):
                        for e, op in enumerate(cell):
                            table[g, c, e, cfg.op_names.index(op)] = 1.0
            else:
                keep = torch.tensor([n != ZERO for n in cfg.op_names], dtype=torch.float)
                table = (keep / keep.sum()).expand(1, cfg.cells, len(cell_edges(cfg.steps)), -1).clone()
            self.register_buffer("table", table)
            keep = table.amax(dim=(0, 1, 2)) * torch.tensor([n != ZERO for n in cfg.op_names], dtype=torch.float)
            self.register_buffer("shared", (keep / keep.sum()).expand(1, *table.shape[1:]).clone(), persistent=False)
            self.cells = CellStack(space, cfg.op_names, cfg.width, cfg.steps, cfg.cells)
        elif cfg.structure in PREDICTORS:
            self.cells = CellStack(space, cfg.op_names, cfg.width, cfg.steps, cfg.cells)
            if cfg.descriptor not in ("background", "motion"):
                raise InputError(f"descriptor must be background or motion, not {cfg.descriptor!r}")
            d = cfg.width * (4 if cfg.descriptor == "motion" else 1)
            self.predictor = PREDICTORS[cfg.structure](d, cfg.cells, len(cell_edges(cfg.steps)), len(cfg.op_names))
        else:
            raise InputError(f"structure must be adaptive, global, fixed, mixture or routed, not {cfg.structure!r}")
        if cfg.shared_epochs and cfg.structure != "routed":
            raise InputError("shared epochs apply to a routed structure only")
        self.epoch = 0  # the training epoch (set by the training loop through set_epoch)
        if cfg.head not in HEADS:
            raise InputError(f"head must be one of {', '.join(HEADS)}, not {cfg.head!r}")
        self.dropout = nn.Dropout(cfg.dropout)
        pooled = cfg.steps * cfg.width * (2 if cfg.head == "temporal" else 1)
        self.classifier = nn.Linear(pooled + (cfg.width if cfg.head_descriptor else 0), cfg.classes)

    def set_epoch(self, epoch: int) -> None:
        """The current training epoch (a routed model trains its first ``shared_epochs`` on the shared mixture)."""
        self.epoch = epoch

    @property
    def searchable(self) -> bool:
        return self.predictor is not None

    def structure_parameters(self) -> list[nn.Parameter]:
        return list(self.predictor.parameters()) if self.predictor is not None else []

    def weight_parameters(self) -> list[nn.Parameter]:
        ids = {id(p) for p in self.structure_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def _nodes(self, graph: VideoGraph) -> tuple[torch.Tensor, torch.Tensor]:
        """Reduced object nodes (plus their layout embedding, padding zeroed) and background nodes."""
        objects = self.reduce(graph.objects)
        if self.layout is not None:
            objects = objects + self.layout(graph.layout)
        return objects * graph.mask[..., None], self.reduce(graph.background)

    def structure_of(self, graph: VideoGraph, derive: bool = False) -> Optional[torch.Tensor]:
        """Structure weights (B, cells, edges, ops) of each video: predicted (softmax, or the argmax structure
        with ``derive``), routed by ``graph.group`` (in training, the uniform mixture of the routes' operations
        during the first ``shared_epochs``), the uniform mixture, or None for a fixed structure."""
        if self.cfg.structure == "fixed":
            return None
        b = graph.objects.shape[0]
        if self.cfg.structure == "mixture":
            return self.table.expand(b, *self.table.shape[1:])
        if self.cfg.structure == "routed":
            if graph.group is None:
                raise InputError("oracle routing needs each video's group (a benchmark with scene families)")
            if self.training and self.epoch < self.cfg.shared_epochs:
                return self.shared.expand(b, *self.shared.shape[1:])
            return self.table[graph.group]
        return self._predicted(*self._nodes(graph), graph.mask, derive)

    def _predicted(self, objects: torch.Tensor, background: torch.Tensor, mask: torch.Tensor,
                   derive: bool) -> torch.Tensor:
        """The structure predictor's weights from reduced nodes (softmax, or one-hot with ``derive``; in training
        with ``gumbel``, a straight-through sample)."""
        sample = self.training and self.epoch >= self.cfg.gumbel_from
        return structure_weights(self.predictor(self._predictor_input(objects, background, mask)),
                                 self.cfg.op_names, derive=derive, gumbel=self.cfg.gumbel if sample else 0.0)

    def forward(self, graph: VideoGraph, derive_structure: bool = False,
                weights: Optional[torch.Tensor] = None) -> VideoOutput:
        """Logits of each video, with its own structure (or the given ``weights``, e.g. another video's)."""
        objects, background = self._nodes(graph)
        g = graph.with_features(objects, background)
        b = objects.shape[0]
        if weights is None and self.predictor is not None:
            weights = self._predicted(objects, background, graph.mask, derive_structure)
        elif weights is None:
            weights = self.structure_of(graph)
        diversity = diversity_loss(weights) if self.predictor is not None else objects.new_zeros(())
        if weights is None:
            cell_weights = [[objects.new_ones(b, 1)] * self.cells.n_edges for _ in self.cells.cells]
        else:
            cell_weights = [[weights[:, c, e] for e in range(self.cells.n_edges)] for c in range(len(self.cells.cells))]
        nodes = self.cells(objects, cell_weights, g)
        pooled = self._pool(nodes, graph.mask)
        if self.cfg.head_descriptor:
            pooled = torch.cat([pooled, background.mean(dim=(1, 2))], dim=-1)
        return VideoOutput(self.classifier(self.dropout(pooled)), weights if self.predictor is not None else None,
                           diversity)

    def _pool(self, nodes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, N, C) cell outputs -> (B, C) mean over valid nodes, or (B, 2C) [mean, h₂ − h₁] (``temporal``)."""
        valid = mask[..., None].float()

        pooled = _mean(nodes, valid)
        if self.cfg.head == "temporal":
            half = max(nodes.shape[1] // 2, 1)
            late, early = _mean(nodes[:, half:], valid[:, half:]), _mean(nodes[:, :half], valid[:, :half])
            pooled = torch.cat([pooled, late - early], dim=-1)
        return pooled

    def _predictor_input(self, objects: torch.Tensor, background: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.cfg.descriptor == "background":
            return background.mean(dim=(1, 2))
        half = objects.shape[1] // 2 or 1
        valid = mask[..., None].float()

        obj = [_mean(objects[:, :half], valid[:, :half]), _mean(objects[:, half:], valid[:, half:])]
        bg = [background[:, :half].mean(dim=(1, 2)), background[:, half:].mean(dim=(1, 2))]
        return torch.cat([background.mean(dim=(1, 2)), _mean(objects, valid), obj[1] - obj[0], bg[1] - bg[0]], -1)

    @torch.no_grad()
    def derived_structures(self, graph: VideoGraph) -> list[Structure]:
        """Each video's test-time structure (argmax per edge, ``zero`` excluded; the route of a routed model)."""
        if self.cfg.structure == "fixed":
            return [Structure.from_dict(self.cfg.fixed)] * graph.objects.shape[0]
        if self.cfg.structure == "mixture" or (self.cfg.structure == "routed" and graph.group is not None and any(
                self.cfg.routes[k] == MIXTURE for k in graph.group.tolist())):
            raise InputError("the uniform mixture has no single derived structure")
        return derive(self.structure_of(graph, derive=True), self.cfg.op_names, self.cfg.steps)
