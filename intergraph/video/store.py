"""A resumable store of node features, one file per video, computed once with a frozen backbone (the paper's
protocol): ``STORE/videos/<id>.pt`` plus ``STORE/index.json`` (classes, splits, skipped videos, the clip and
node configuration). Search and training then read the store and never touch the videos."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from ..errors import InputError
from ..graph.io import atomic_save
from .features import FeatureSet, extract
from .nodes import NodeConfig, NodeExtractor
from .something import ClipSpec, folder_videos, groups_of, labels_file, read_labels

FORMAT = "intergraph.video.store/1"


def is_store(path: str | Path) -> bool:
    return (Path(path) / "index.json").exists()


def extract_store(root: str | Path, out: str | Path, nodes: NodeConfig, clip: ClipSpec, seed: int = 0,
                  device: str = "cpu", progress: bool = True, log: Callable = print) -> dict:
    """Node features of every video of the dataset folder ``root`` into ``out``. A rerun skips stored videos;
    unreadable videos are skipped and listed at the end (and in index.json), finished ones are never lost."""
    root, out = Path(root), Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    config = {"source": str(root.resolve()), "nodes": asdict(nodes), "clip": asdict(clip), "seed": seed}
    index_path = out / "index.json"
    if index_path.exists():
        old = json.loads(index_path.read_text())
        if old.get("config") != config:
            raise InputError(f"{out} holds features of another configuration; choose another --out")
    classes = read_labels(labels_file(root))
    torch.manual_seed(seed)
    extractor = NodeExtractor(nodes)
    splits, skipped = {}, []
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        for split in ("train", "val", "test"):
            task = bar.add_task(f"{split}: videos -> node features", total=None)
            done = {p.stem for p in (out / "videos").glob("*.pt")}
            fresh = folder_videos(root, split, skipped, clip, skip=done)
            ids = _ids_in_order(root, split, classes)
            for fs in _batched(fresh, extractor, device):
                for i, vid in enumerate(fs.ids):
                    one = fs.subset([i])
                    atomic_save({"format": FORMAT, "objects": one.objects[0], "background": one.background[0],
                                 "layout": one.layout[0], "mask": one.mask[0], "label": int(one.labels[0])},
                                out / "videos" / f"{vid}.pt")
                bar.advance(task, len(fs))
            stored = {p.stem for p in (out / "videos").glob("*.pt")}
            clips = (clip.train_clips or 1) if split == "train" else clip.test_clips
            splits[split] = [c for v in ids for c in ([v] if clips == 1 else [f"{v}#{k}" for k in range(clips)])
                             if c in stored]
    index = {"format": FORMAT, "config": config, "classes": classes, "splits": splits,
             "skipped": [list(s) for s in skipped]}
    index_path.write_text(json.dumps(index, indent=1))
    for vid, why in skipped:
        log(f"skipped video {vid}: {why}")
    log(f"{sum(len(v) for v in splits.values())} videos in {out} ({len(skipped)} skipped)")
    return index


def _ids_in_order(root: Path, split: str, classes: list[str]) -> list[str]:
    from .something import read_split, split_list

    return [vid for vid, _, _ in read_split(split_list(root, split), len(classes), classes)]


def _batched(videos, extractor: NodeExtractor, device: str, size: int = 8):
    batch = []
    for v in videos:
        batch.append(v)
        if len(batch) == size:
            yield extract(batch, extractor, batch_size=size, device=device)
            batch = []
    if batch:
        yield extract(batch, extractor, batch_size=size, device=device)


def load_store(path: str | Path) -> FeatureSet:
    """The whole store as one FeatureSet, with its classes and splits (as indices) in ``meta``."""
    path = Path(path)
    index = json.loads((path / "index.json").read_text())
    if index.get("format") != FORMAT:
        raise InputError(f"{path}: not a video feature store (format {index.get('format')!r})")
    ids = [v for s in ("train", "val", "test") for v in index["splits"][s]]
    if not ids:
        raise InputError(f"{path}: the store holds no videos")
    items = [torch.load(path / "videos" / f"{v}.pt", map_location="cpu", weights_only=True) for v in ids]
    n = {s: len(index["splits"][s]) for s in ("train", "val", "test")}
    splits = {"train": list(range(n["train"])), "val": list(range(n["train"], n["train"] + n["val"])),
              "test": list(range(n["train"] + n["val"], len(ids)))}
    return FeatureSet(*(torch.stack([it[k] for it in items]) for k in ("objects", "background", "layout", "mask")),
                      torch.tensor([it["label"] for it in items]), ids,
                      {"classes": index["classes"], "splits": splits, "skipped": index["skipped"],
                       "store": str(path), "class_groups": groups_of(index["config"]["source"])})
