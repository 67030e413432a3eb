"""Video classification as a task of the shared training layer: cross-entropy, top-1/top-5 accuracy."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..train.metrics import topk_accuracy


class ClassificationTask:
    """Batches are (VideoGraph, labels)."""

    def loss(self, out, batch) -> torch.Tensor:
        return F.cross_entropy(out.logits, batch[1])

    def predictions(self, out, batch) -> dict[str, np.ndarray]:
        return {"logits": out.logits.detach().float().cpu().numpy(), "labels": batch[1].cpu().numpy()}

    def metrics(self, collected: dict[str, np.ndarray]) -> dict[str, float]:
        logits, labels = collected["logits"], collected["labels"]
        return {"top1": topk_accuracy(logits, labels, 1), "top5": topk_accuracy(logits, labels, 5)}
