"""The on-disk layout of Something-Something with Something-Else boxes, written by ``intergraph video synth``
and read back by the same code as real data:

    DIR/labels.json              {"class template": "index", ...}            (SSv2 labels file)
    DIR/{train,val,test}.txt     "video_id num_frames label_index" per line   (the paper code's lists)
    DIR/annotations.json         {video_id: [per-frame record, ...]}           (Something-Else)
    DIR/frames/<video_id>/0001.jpg ...                                         (frame folders)

A per-frame record: {"name": "<video_id>/0001.jpg", "labels": [{"box2d": {"x1","y1","x2","y2"},
"category", "gt_annotation": "object 0" | "object hand" ..., "standard_category"}], "nr_instances"}.
Box columns are the sorted ``gt_annotation`` names of the video; frames without a record get masked boxes
(or carry the object's last box).

Real Something-Something data read by the same code: the official label files (V2 ``labels.json``, V1 class
CSV: one class per line), split lists as ``video_id num_frames label`` text or the official JSON lists
(``[{"id", "template", ...}]``), and videos as frame folders ``frames/<id>/`` or files ``videos/<id>.webm``
(mp4, avi, mkv...). Without Something-Else annotations, boxes can be regular grid tiles.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..errors import InputError
from .features import LabelledVideo
from .io import VIDEO_SUFFIXES, FrameFolder, VideoDataError, open_video
from .sampling import clip_indices, train_indices
from .synthetic import SyntheticConfig, class_groups, classes_of, render, splits
from .transforms import ClipTransform, flip_pairs

FRAME = "{:04d}.jpg"


def write_synthetic(out: str | Path, n: int, cfg: SyntheticConfig = SyntheticConfig(),
                    on_video: Callable[[], None] | None = None) -> Path:
    """Render ``n`` synthetic videos into ``out`` in the layout above (resumable: finished videos are kept)."""
    from PIL import Image

    out = Path(out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    (out / "labels.json").write_text(json.dumps({c: str(i) for i, c in enumerate(classes_of(cfg))}, indent=1))
    annotations = {}
    lists = {name: [] for name in ("train", "val", "test")}
    split_of = {i: name for name, idx in splits(n).items() for i in idx}
    for i in range(n):
        v = render(i, cfg)
        vid = f"{i:06d}"
        folder = out / "frames" / vid
        if not (folder / FRAME.format(cfg.frames)).exists():
            tmp = folder.with_name(f".{vid}.tmp")  # a video appears whole or not at all
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for f, frame in enumerate(v.frames):
                Image.fromarray(frame).save(tmp / FRAME.format(f + 1), quality=92)
            shutil.rmtree(folder, ignore_errors=True)
            tmp.replace(folder)
        annotations[vid] = [
            {"name": f"{vid}/{FRAME.format(f + 1)}", "nr_instances": len(v.roles[f]),
             "labels": [{"box2d": dict(zip(("x1", "y1", "x2", "y2"), map(float, box))), "category": role,
                         "standard_category": role, "gt_annotation": f"object {k}"}
                        for k, (box, role) in enumerate(zip(v.boxes[f], v.roles[f]))]}
            for f in range(cfg.frames)]
        lists[split_of[i]].append(f"{vid} {cfg.frames} {v.label}")
        if on_video:
            on_video()
    (out / "annotations.json").write_text(json.dumps(annotations))
    for name, lines in lists.items():
        (out / f"{name}.txt").write_text("\n".join(lines) + "\n")
    (out / "synthetic.json").write_text(json.dumps({"videos": n, **cfg.__dict__, "class_groups": class_groups(cfg)},
                                                   indent=1))
    return out


def groups_of(root: str | Path) -> list[str] | None:
    """The family of every class, for a folder written by ``video synth --benchmark families`` (None otherwise)."""
    path = Path(root) / "synthetic.json"
    return json.loads(path.read_text()).get("class_groups") if path.exists() else None


def read_labels(path: str | Path) -> list[str]:
    """Class names by index from an SSv2 labels.json ({template: "index"}) or a V1 class CSV (one per line)."""
    path = Path(path)
    if path.suffix == ".csv":
        try:
            names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        except OSError as e:
            raise VideoDataError(f"{path}: not a labels file ({e})") from None
        if not names:
            raise VideoDataError(f"{path}: no classes")
        return names
    try:
        table = json.loads(Path(path).read_text())
        names = {int(i): c for c, i in table.items()}
    except (OSError, ValueError, AttributeError) as e:
        raise VideoDataError(f"{path}: not a labels file ({e})") from None
    if sorted(names) != list(range(len(names))):
        raise VideoDataError(f"{path}: class indices are not 0..{len(names) - 1}")
    return [names[i] for i in range(len(names))]


def _template_key(template: str) -> str:
    return template.replace("[", "").replace("]", "").strip()


def read_split(path: str | Path, n_classes: int, classes: list[str] | None = None) -> list[tuple[str, int | None, int]]:
    """(video_id, num_frames, label) per line of a ``video_id num_frames label`` list, or per entry of an official
    SSv2 JSON list (labels by template through ``classes``; frame counts then come from the videos: None)."""
    path = Path(path)
    if path.suffix == ".json":
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise VideoDataError(f"{path}: unreadable list ({e})") from None
        index = {_template_key(c): i for i, c in enumerate(classes or [])}
        out = []
        for k, e in enumerate(entries):
            try:
                vid, template = str(e["id"]), _template_key(e["template"])
            except (KeyError, TypeError):
                raise VideoDataError(f"{path}: entry {k} lacks id/template") from None
            if template not in index:
                raise VideoDataError(f"{path}: video {vid}: class {e['template']!r} is not in the label file")
            out.append((vid, None, index[template]))
        return out
    out = []
    for no, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            vid, frames, label = parts[0], int(parts[1]), int(parts[2])
        except (IndexError, ValueError):
            raise VideoDataError(f"{path}:{no}: expected 'video_id num_frames label', got {line!r}") from None
        if not 0 <= label < n_classes:
            raise VideoDataError(f"{path}:{no}: label {label} of video {vid} is not in the label file "
                                 f"({n_classes} classes)")
        out.append((vid, frames, label))
    return out


def boxes_of(records: list[dict], frames: int, video: str, missing: str = "mask") -> tuple[np.ndarray, np.ndarray]:
    """(T, K, 4) boxes and (T, K) mask from a video's Something-Else records; columns are the video's sorted
    ``gt_annotation`` names. Frames without a box of an object: ``missing="mask"`` leaves them masked,
    ``"carry"`` repeats the object's last box (frames before its first box stay masked)."""
    if missing not in ("mask", "carry"):
        raise InputError(f"missing must be mask or carry, not {missing!r}")
    objects = sorted({lab["gt_annotation"] for r in records for lab in r.get("labels", [])})
    boxes = np.zeros((frames, len(objects), 4), np.float32)
    mask = np.zeros((frames, len(objects)), bool)
    column = {o: k for k, o in enumerate(objects)}
    for r in records:
        f = int(Path(r["name"]).stem) - 1
        if not 0 <= f < frames:
            continue
        for lab in r.get("labels", []):
            b = lab["box2d"]
            boxes[f, column[lab["gt_annotation"]]] = [b["x1"], b["y1"], b["x2"], b["y2"]]
            mask[f, column[lab["gt_annotation"]]] = True
    if not mask.any():
        raise VideoDataError(f"video {video}: no boxes in the annotations")
    if missing == "carry":
        for k in range(len(objects)):
            for f in range(1, frames):
                if not mask[f, k] and mask[f - 1, k]:
                    boxes[f, k], mask[f, k] = boxes[f - 1, k], True
    return boxes, mask


def read_frames(folder: Path, frames: int) -> np.ndarray:
    return FrameFolder(folder, FRAME, 1, frames).read(range(frames))


def grid_boxes(height: int, width: int, rows: int = 2, cols: int = 2) -> np.ndarray:
    """(rows * cols, 4) regular tiles covering the frame: boxes for videos without annotations or detector."""
    ys, xs = np.linspace(0, height, rows + 1), np.linspace(0, width, cols + 1)
    return np.array([[xs[c], ys[r], xs[c + 1], ys[r + 1]] for r in range(rows) for c in range(cols)], np.float32)


@dataclass
class ClipSpec:
    """How a dataset video becomes a clip: ``frames`` sampled (the central test clip), the central square
    resized to ``size``; boxes from the annotations (``missing``: mask | carry), ``grid`` tiles, or the
    ``proposals`` file (paper format, ``intergraph video proposals``), its ``top`` boxes per frame."""

    frames: int = 8
    size: int = 112
    boxes: str = "annotations"  # annotations | grid | proposals
    missing: str = "mask"
    grid: int = 2
    template: str = FRAME
    start: int = 1
    proposals: str = "proposals.json"  # relative to the dataset folder
    top: int = 4
    test_clips: int = 1  # clips per validation/test video (ids "<id>#<k>"; scores averaged at evaluation)
    train_clips: int = 0  # 0: the central clip; k: k augmented clips per training video (jittered sampling,
    #                       multi-scale crop, flip with the label map found from the class names)
    flip: str = "swap"
    seed: int = 0


def _video_source(root: Path, vid: str, frames: int | None, spec: ClipSpec):
    folder = root / "frames" / vid
    if folder.is_dir():
        return open_video(folder, spec.template, spec.start, frames)
    for suffix in VIDEO_SUFFIXES:
        if (root / "videos" / f"{vid}{suffix}").exists():
            return open_video(root / "videos" / f"{vid}{suffix}")
    raise VideoDataError(f"{root}: no frames/{vid}/ nor videos/{vid}.<{'|'.join(s[1:] for s in VIDEO_SUFFIXES)}>")


def split_list(root: Path, split: str) -> Path:
    for name in (f"{split}.txt", f"{split}.json"):
        if (root / name).exists():
            return root / name
    raise VideoDataError(f"{root}: no split list {split}.txt or {split}.json")


def labels_file(root: Path) -> Path:
    for name in ("labels.json", "labels.csv"):
        if (root / name).exists():
            return root / name
    raise VideoDataError(f"{root}: no labels.json (SSv2) or labels.csv (V1 classes)")


def dataset_videos(root: str | Path, clip: ClipSpec = ClipSpec()) -> list[tuple[str, Callable]]:
    """(video id, reader factory) of every video listed in any split of a dataset folder."""
    root = Path(root)
    classes = read_labels(labels_file(root))
    out = []
    for split in ("train", "val", "test"):
        for vid, frames, _ in read_split(split_list(root, split), len(classes), classes):
            out.append((vid, lambda vid=vid, frames=frames: _video_source(root, vid, frames, clip)))
    return out


def folder_videos(root: str | Path, split: str, skipped: list[tuple[str, str]],
                  clip: ClipSpec | None = None, skip: set[str] = frozenset()) -> Iterator[LabelledVideo]:
    """The videos of one split of a dataset folder (except the ids in ``skip``); a video that cannot be read
    is skipped and appended to ``skipped`` as (video_id, reason). Without ``clip``: every frame as stored
    (the synthetic layout)."""
    root = Path(root)
    classes = read_labels(labels_file(root))
    annotations = {}
    if clip is None or clip.boxes in ("annotations", "proposals"):
        name = "annotations.json" if clip is None or clip.boxes == "annotations" else clip.proposals
        try:
            annotations = json.loads((root / name).read_text())
        except (OSError, ValueError) as e:
            raise VideoDataError(f"{root / name}: unreadable ({e})") from None
    pairs = flip_pairs(classes)
    for vid, frames, label in read_split(split_list(root, split), len(classes), classes):
        if vid in skip or f"{vid}#0" in skip:
            continue
        try:
            if clip is None:
                if vid not in annotations:
                    raise VideoDataError(f"{root / 'annotations.json'}: no annotation for video {vid}")
                boxes, mask = boxes_of(annotations[vid], frames, vid)
                yield LabelledVideo(vid, read_frames(root / "frames" / vid, frames), boxes, mask, label)
                continue
            source = _video_source(root, vid, frames, clip)
            n = source.num_frames
            augment = split == "train" and clip.train_clips > 0
            clips = clip.train_clips if augment else clip.test_clips if split != "train" else 1
            rng = np.random.default_rng([clip.seed, int.from_bytes(vid.encode()[-8:], "little")])
            indices = ([train_indices(n, clip.frames, rng) for _ in range(clips)] if augment
                       else clip_indices(n, clip.frames, clips))
            wanted = np.unique(np.concatenate(indices))
            pixels = source.read(wanted)
            h, w = pixels.shape[1:3]
            if clip.boxes == "grid":
                all_boxes = np.tile(grid_boxes(h, w, clip.grid, clip.grid), (n, 1, 1))
                all_mask = np.ones(all_boxes.shape[:2], bool)
            elif clip.boxes == "proposals":
                from .proposals import proposal_boxes

                all_boxes, all_mask = proposal_boxes(annotations, vid, n, w, h, clip.top)
            else:
                if vid not in annotations:
                    raise VideoDataError(f"{root / 'annotations.json'}: no annotation for video {vid}")
                all_boxes, all_mask = boxes_of(annotations[vid], n, vid, clip.missing)
            transform = ClipTransform(clip.size, train=augment, flip=clip.flip, flip_pairs=pairs)
            for k, idx in enumerate(indices):
                video, boxes, mask, y = transform(pixels[np.searchsorted(wanted, idx)], all_boxes[idx], all_mask[idx],
                                                  label, rng)
                frames_u8 = (video.permute(1, 2, 3, 0) * 255).round().to(torch.uint8).numpy()
                yield LabelledVideo(vid if clips == 1 else f"{vid}#{k}", frames_u8, boxes, mask, y)
        except VideoDataError as e:
            skipped.append((vid, str(e)))
