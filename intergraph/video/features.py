"""Node features computed once per video by a frozen backbone (the paper's frozen-backbone protocol), kept in
memory or in one file, so that the search and every baseline train on the same features without touching
the videos again."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from ..errors import InputError
from ..graph.io import atomic_save
from .graph import VideoGraph
from .nodes import NodeExtractor

FORMAT = "intergraph.video.features/1"


@dataclass
class LabelledVideo:
    """One decoded video with its boxes: frames (T, H, W, 3) uint8, boxes (T, K, 4) pixels, mask (T, K)."""

    id: str
    frames: np.ndarray
    boxes: np.ndarray
    mask: np.ndarray
    label: int


@dataclass
class FeatureSet:
    objects: torch.Tensor     # (V, T, N, C) float16
    background: torch.Tensor  # (V, T, M, C) float16
    layout: torch.Tensor      # (V, T, N, 9)
    mask: torch.Tensor        # (V, T, N) bool
    labels: torch.Tensor      # (V,) long
    ids: list[str]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def shape(self) -> dict[str, int]:
        v, t, n, c = self.objects.shape
        return {"frames": t, "nodes_per_frame": n, "background_per_frame": self.background.shape[2], "channels": c}

    @property
    def group_names(self) -> list[str] | None:
        """Names of the videos' groups (scene families), in order of first appearance among the classes;
        None unless ``meta["class_groups"]`` gives the group of every class."""
        groups = self.meta.get("class_groups")
        return list(dict.fromkeys(groups)) if groups else None

    def _class_groups(self) -> torch.Tensor | None:
        """(classes,) group index of every class, or None."""
        names = self.group_names
        return None if names is None else torch.tensor([names.index(g) for g in self.meta["class_groups"]])

    def groups(self) -> torch.Tensor | None:
        """(V,) group index of every video, or None."""
        of_class = self._class_groups()
        return None if of_class is None else of_class[self.labels]

    def graph(self, index) -> VideoGraph:
        of_class = self._class_groups()
        return VideoGraph(self.objects[index].float(), self.background[index].float(), self.layout[index].float(),
                          self.mask[index], None if of_class is None else of_class[self.labels[index]])

    def subset(self, index: list[int]) -> "FeatureSet":
        idx = torch.as_tensor(index, dtype=torch.long)
        return FeatureSet(self.objects[idx], self.background[idx], self.layout[idx], self.mask[idx],
                          self.labels[idx], [self.ids[i] for i in index], dict(self.meta))

    def save(self, path: str | Path) -> None:
        atomic_save({"format": FORMAT, "objects": self.objects, "background": self.background, "layout": self.layout,
                     "mask": self.mask, "labels": self.labels, "ids": self.ids, "meta": self.meta}, path)

    @classmethod
    def load(cls, path: str | Path) -> "FeatureSet":
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
            raise InputError(f"{path}: not a video feature file ({type(e).__name__}: {e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else None
            raise InputError(f"{path}: not a video feature file (format {found!r})")
        return cls(d["objects"], d["background"], d["layout"], d["mask"], d["labels"], list(d["ids"]), d["meta"])


def _batches(videos: Iterable[LabelledVideo], size: int) -> Iterator[list[LabelledVideo]]:
    batch = []
    for v in videos:
        batch.append(v)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@torch.no_grad()
def extract(videos: Iterable[LabelledVideo], extractor: NodeExtractor, batch_size: int = 16,
            device: str | torch.device = "cpu", on_batch: Callable[[int], None] | None = None,
            meta: dict | None = None) -> FeatureSet:
    """Node features of every video (videos of one batch must share frame count and size)."""
    extractor = extractor.to(device).eval()
    parts: dict[str, list] = {k: [] for k in ("objects", "background", "layout", "mask")}
    labels, ids = [], []
    n = extractor.cfg.nodes_per_frame
    for batch in _batches(videos, batch_size):
        k = max(v.boxes.shape[1] for v in batch)
        frames = torch.from_numpy(np.stack([v.frames for v in batch])).to(device)
        video = frames.permute(0, 4, 1, 2, 3).float() / 255.0
        boxes = torch.zeros(len(batch), frames.shape[1], k, 4)
        mask = torch.zeros(len(batch), frames.shape[1], k, dtype=torch.bool)
        for i, v in enumerate(batch):
            boxes[i, :, :v.boxes.shape[1]] = torch.from_numpy(v.boxes)
            mask[i, :, :v.boxes.shape[1]] = torch.from_numpy(v.mask)
        if k > n:
            raise InputError(f"{batch[0].id}...: {k} boxes per frame for {n} object nodes")
        g = extractor(video, boxes.to(device), mask.to(device))
        parts["objects"].append(g.objects.half().cpu())
        parts["background"].append(g.background.half().cpu())
        parts["layout"].append(g.layout.cpu())
        parts["mask"].append(g.mask.cpu())
        labels += [v.label for v in batch]
        ids += [v.id for v in batch]
        if on_batch:
            on_batch(len(batch))
    return FeatureSet(*(torch.cat(parts[k]) for k in ("objects", "background", "layout", "mask")),
                      torch.tensor(labels, dtype=torch.long), ids, dict(meta or {}))
