"""Nodes from videos: a 3-D CNN feature map, object nodes by RoIAlign on per-frame boxes, background nodes on
a grid, and the layout vector of every object node.

Backbones: torchvision's r3d_18, r2plus1d_18 and mc3_18 (random initialisation, or the user's weights from a
path: nothing is downloaded), cut after ``layer3`` or ``layer4``, or ``small3d``, a three-layer 3-D CNN for
CPU work. Boxes are given per input frame in pixels; the feature map's time steps take the box of the first
frame of their temporal window (as the paper's code did).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from ..errors import InputError
from .graph import VideoGraph, layout_vectors

TORCHVISION = ("r3d_18", "r2plus1d_18", "mc3_18")
BACKBONES = TORCHVISION + ("small3d",)
# Kinetics-400 normalisation used by torchvision's video models
MEAN = (0.43216, 0.394666, 0.37645)
STD = (0.22803, 0.22145, 0.216989)


class Small3D(nn.Module):
    """Three 3-D conv layers (32, 64, 128 channels), spatial stride 8, temporal stride 2."""

    out_channels = 128

    def __init__(self):
        super().__init__()

        def block(i, o, k, s):
            return nn.Sequential(nn.Conv3d(i, o, k, s, tuple(x // 2 for x in k), bias=False), nn.BatchNorm3d(o),
                                 nn.ReLU(inplace=True))

        self.net = nn.Sequential(block(3, 32, (3, 5, 5), (1, 2, 2)), block(32, 64, (3, 3, 3), (2, 2, 2)),
                                 block(64, 128, (3, 3, 3), (1, 2, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TorchvisionTrunk(nn.Module):
    """A torchvision video ResNet without its pooling and classifier, ending after ``layer``."""

    def __init__(self, name: str, layer: str = "layer4", weights: str | Path | None = None):
        super().__init__()
        from torchvision.models import video

        model = getattr(video, name)(weights=None)
        if weights:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            missing, unexpected = model.load_state_dict(state, strict=False)
            if [k for k in missing if not k.startswith("fc.")] or unexpected:
                raise InputError(f"{weights}: not {name} weights (missing {missing[:3]}, unexpected {unexpected[:3]})")
        layers = ["stem", "layer1", "layer2", "layer3", "layer4"]
        if layer not in layers[3:]:
            raise InputError(f"cut after layer3 or layer4, not {layer!r}")
        self.body = nn.Sequential(*[getattr(model, n) for n in layers[:layers.index(layer) + 1]])
        self.out_channels = 256 if layer == "layer3" else 512

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def make_backbone(name: str, weights: str | Path | None = None, layer: str = "layer4") -> nn.Module:
    if name == "small3d":
        model = Small3D()
        if weights:
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return model
    if name in TORCHVISION:
        return TorchvisionTrunk(name, layer, weights)
    raise InputError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")


@dataclass
class NodeConfig:
    backbone: str = "small3d"
    weights: str | None = None
    layer: str = "layer4"
    nodes_per_frame: int = 4   # object node budget per frame (the paper: 10)
    grid: int = 7              # background grid per frame (grid x grid nodes)
    roi: int = 7               # RoIAlign output size, averaged into one vector per box


class NodeExtractor(nn.Module):
    """Videos (B, 3, T, H, W) in [0, 1] and boxes (B, T, K, 4) with mask (B, T, K) -> VideoGraph of backbone
    features (the model's first layer reduces their channels)."""

    def __init__(self, cfg: NodeConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = make_backbone(cfg.backbone, cfg.weights, cfg.layer)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1, 1))

    @property
    def out_channels(self) -> int:
        return self.backbone.out_channels

    def forward(self, video: torch.Tensor, boxes: torch.Tensor, mask: torch.Tensor) -> VideoGraph:
        b, _, t_in, h, w = video.shape
        k = boxes.shape[2]
        n = self.cfg.nodes_per_frame
        if k > n:
            raise InputError(f"{k} boxes per frame for a budget of {n} object nodes: raise nodes_per_frame")
        fmap = self.backbone((video - self.mean) / self.std)  # (B, C, T', h', w')
        c, t = fmap.shape[1], fmap.shape[2]
        stride = max(t_in // t, 1)
        frame_boxes = boxes[:, ::stride][:, :t]
        frame_mask = mask[:, ::stride][:, :t]
        pad = n - k
        if pad:
            frame_boxes = F.pad(frame_boxes, (0, 0, 0, pad))
            frame_mask = F.pad(frame_mask, (0, pad), value=False)
        maps = fmap.transpose(1, 2).reshape(b * t, c, fmap.shape[3], fmap.shape[4])
        rois = frame_boxes.reshape(b * t, n, 4).to(maps.dtype)
        scale = fmap.shape[4] / w
        pooled = roi_align(maps, list(rois), output_size=self.cfg.roi, spatial_scale=scale, sampling_ratio=2,
                           aligned=True)
        objects = pooled.mean(dim=(2, 3)).view(b, t, n, c) * frame_mask[..., None]
        background = F.adaptive_avg_pool2d(maps, self.cfg.grid).flatten(2).transpose(1, 2).reshape(b, t, -1, c)
        return VideoGraph(objects, background, layout_vectors(frame_boxes, w, h) * frame_mask[..., None],
                          frame_mask)
