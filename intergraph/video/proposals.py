"""Region proposals from torchvision's Faster R-CNN (its region proposal network), computed once per video and
stored as the paper's code stores them: ``{video_id: [frame: [[x1, y1, x2, y2], ...], ...]}`` with coordinates
divided by the frame width/height and boxes in descending objectness, every frame of the video in order.

Weights are the user's (a state dict saved from torchvision's detector); there is no download here, and without
weights the error says where to get them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError, MissingError
from .io import VideoDataError

DETECTORS = ("fasterrcnn_resnet50_fpn", "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn")


def load_detector(name: str, weights: str | Path | None, top: int = 10):
    """A torchvision Faster R-CNN with the user's weights, keeping ``top`` proposals per image."""
    import torchvision.models.detection as det

    if name not in DETECTORS:
        raise InputError(f"detector must be one of {DETECTORS}, not {name!r}")
    if weights is None or not Path(weights).exists():
        raise MissingError(
            f"no weights for {name}{f' at {weights}' if weights else ''}: proposals need a trained detector. Save "
            f"torchvision's COCO weights once where you are online (torchvision.models.detection.{name}(weights="
            f"'DEFAULT').state_dict() -> torch.save) and pass that file with --weights; or use --boxes grid")
    model = getattr(det, name)(weights=None, weights_backbone=None)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
    except Exception as e:  # noqa: BLE001 - any unusable file gets the same clear message
        raise InputError(f"{weights}: not a {name} state dict ({type(e).__name__}: {e})") from None
    model.rpn._post_nms_top_n = {"training": top, "testing": top}
    return model.eval()


@torch.no_grad()
def frame_proposals(model, frames: np.ndarray, batch: int = 8) -> list[list[list[float]]]:
    """Per frame of (T, H, W, 3) uint8: proposals as [x1/W, y1/H, x2/W, y2/H], most object-like first."""
    from torchvision.models.detection.transform import resize_boxes

    device = next(model.parameters()).device
    h, w = frames.shape[1:3]
    out = []
    for start in range(0, len(frames), batch):
        images = [torch.from_numpy(f).permute(2, 0, 1).float().div(255).to(device) for f in frames[start:start + batch]]
        transformed, _ = model.transform(images)
        proposals, _ = model.rpn(transformed, model.backbone(transformed.tensors))
        for boxes, size in zip(proposals, transformed.image_sizes):
            boxes = resize_boxes(boxes, size, (h, w)).cpu()
            out.append((boxes / torch.tensor([w, h, w, h])).clamp(0, 1).tolist())
    return out


def write_proposals(videos, model, out: str | Path, on_video: Callable[[], None] | None = None,
                    log: Callable = print) -> dict:
    """Proposals of every (id, reader) in ``videos`` into the JSON file ``out``; resumable (videos already in
    the file are kept), unreadable videos skipped and reported."""
    out = Path(out)
    table = json.loads(out.read_text()) if out.exists() else {}
    skipped = []
    for vid, reader in videos:
        if vid in table:
            continue
        try:
            video = reader()
            table[vid] = frame_proposals(model, video.read(range(video.num_frames)))
        except VideoDataError as e:
            skipped.append((vid, str(e)))
            continue
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(table))
        tmp.replace(out)
        if on_video:
            on_video()
    for vid, why in skipped:
        log(f"skipped video {vid}: {why}")
    return {"videos": len(table), "skipped": skipped}


def proposal_boxes(table: dict, vid: str, n_frames: int, width: int, height: int,
                   top: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, top, 4) pixel boxes and mask of one video from a proposals table (paper format)."""
    if vid not in table:
        raise VideoDataError(f"no proposals for video {vid}")
    frames = table[vid]
    if len(frames) != n_frames:
        raise VideoDataError(f"video {vid}: proposals for {len(frames)} frames, the video has {n_frames}")
    boxes = np.zeros((n_frames, top, 4), np.float32)
    mask = np.zeros((n_frames, top), bool)
    for f, frame in enumerate(frames):
        b = np.asarray(frame[:top], np.float32).reshape(-1, 4) * [width, height, width, height]
        boxes[f, :len(b)], mask[f, :len(b)] = b, True
    return boxes, mask
