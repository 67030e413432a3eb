"""The graph of a batch of videos: object nodes per frame (with a mask for padding), background grid nodes per
frame, and the 9-d layout of every object node."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

LAYOUT_DIM = 9  # x1, y1, x2, y2, cx, cy, w, h (divided by the frame size), t / T


@dataclass
class VideoGraph:
    objects: torch.Tensor     # (B, T, N, C) object node features
    background: torch.Tensor  # (B, T, M, C) background grid node features
    layout: torch.Tensor      # (B, T, N, 9)
    mask: torch.Tensor        # (B, T, N) bool: False for padding (fewer boxes than N)
    group: Optional[torch.Tensor] = None  # (B,) long: each video's group (scene family), where known

    def __post_init__(self):
        b, t, n, _ = self.objects.shape
        if self.background.shape[:2] != (b, t) or self.layout.shape != (b, t, n, LAYOUT_DIM) \
                or self.mask.shape != (b, t, n):
            raise ValueError(f"inconsistent video graph: objects {tuple(self.objects.shape)}, background "
                             f"{tuple(self.background.shape)}, layout {tuple(self.layout.shape)}, "
                             f"mask {tuple(self.mask.shape)}")

    def to(self, device) -> "VideoGraph":
        return VideoGraph(self.objects.to(device), self.background.to(device), self.layout.to(device),
                          self.mask.to(device), None if self.group is None else self.group.to(device))

    def with_features(self, objects: torch.Tensor, background: torch.Tensor) -> "VideoGraph":
        return VideoGraph(objects, background, self.layout, self.mask, self.group)


def layout_vectors(boxes: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """(..., T, N, 4) pixel boxes x1, y1, x2, y2 -> (..., T, N, 9) layout vectors in [0, 1]."""
    scale = boxes.new_tensor([width, height, width, height])
    b = boxes / scale
    centre = (b[..., :2] + b[..., 2:]) / 2
    size = b[..., 2:] - b[..., :2]
    t = boxes.shape[-3]
    time = (torch.arange(t, dtype=boxes.dtype, device=boxes.device) / max(t, 1)).view(t, 1, 1)
    time = time.expand(*boxes.shape[:-1], 1)
    return torch.cat([b, centre, size, time], dim=-1)
