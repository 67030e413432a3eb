"""Per-residue embeddings: token-budget batching, overlapping windows for long sequences, layer choice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ...errors import InputError
from .backends import PLM


@dataclass(frozen=True)
class LayerSpec:
    """Which representation to keep: one layer, several (concatenated), or the mean of the last k.

    Written as text: ``last``, ``33``, ``30,33`` or ``mean4``.
    """

    layers: tuple[int, ...] = ()
    mean_last: int = 0

    @classmethod
    def parse(cls, text: str) -> "LayerSpec":
        text = text.strip().lower()
        if text in ("", "last"):
            return cls()
        if text.startswith("mean"):
            k = int(text[4:].lstrip(":"))
            if k < 1:
                raise InputError(f"layer spec {text!r}: mean of at least one layer")
            return cls(mean_last=k)
        try:
            return cls(layers=tuple(int(x) for x in text.split(",")))
        except ValueError:
            raise InputError(f"layer spec {text!r}: use last, N, N,M or meanK") from None

    def resolve(self, num_layers: int) -> list[int]:
        if self.mean_last:
            if self.mean_last > num_layers:
                raise InputError(f"mean of the last {self.mean_last} layers, but the model has {num_layers}")
            return list(range(num_layers - self.mean_last + 1, num_layers + 1))
        layers = list(self.layers) or [num_layers]
        bad = [l for l in layers if not 0 <= l <= num_layers]
        if bad:
            raise InputError(f"layers {bad} out of range 0..{num_layers}")
        return layers

    def key(self, num_layers: int) -> str:
        """Canonical text for store keys (``last`` resolves to the layer number)."""
        if self.mean_last:
            return f"mean{self.mean_last}"
        return ",".join(str(l) for l in self.resolve(num_layers))

    def combine(self, reps: dict[int, torch.Tensor]) -> torch.Tensor:
        if self.mean_last:
            return torch.stack(list(reps.values())).mean(0)
        return torch.cat(list(reps.values()), dim=-1)


def windows(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Start/stop of overlapping windows covering ``length`` residues; the last one ends at the end."""
    if length <= window:
        return [(0, length)]
    if not 0 <= overlap < window:
        raise InputError(f"overlap {overlap} must lie in [0, window={window})")
    stride = window - overlap
    starts = list(range(0, length - window, stride)) + [length - window]
    return [(s, s + window) for s in sorted(set(starts))]


def embed(
    plm: PLM,
    seqs: list[str],
    spec: LayerSpec = LayerSpec(),
    token_budget: int = 0,
    window: int = 1022,
    overlap: int = 256,
    half: bool | None = None,
) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Yield, batch by batch, the finished (sequence index, float32 L×D embedding) pairs.

    Sequences (or their windows, for sequences longer than ``window``) are sorted by length and packed into
    batches of at most ``token_budget`` padded tokens; 0 chooses 16,384 on a GPU and one sequence at a
    time on a CPU, where batching is slower (bench/plm.py: 0.6x at 4,096 tokens on 2 cores, 11x on an H200).
    Windows overlap by ``overlap`` residues; where they overlap, their embeddings are averaged. Half precision
    is used on GPU unless ``half=False``.
    """
    layers = spec.resolve(plm.num_layers)
    pieces = [(i, s, e) for i, seq in enumerate(seqs) for s, e in windows(len(seq), window, overlap)]
    pieces.sort(key=lambda p: p[2] - p[1], reverse=True)
    remaining = {i: len(windows(len(seq), window, overlap)) for i, seq in enumerate(seqs)}
    partial: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    device = plm.device
    token_budget = token_budget or (16384 if device.type == "cuda" else 1)
    use_half = device.type == "cuda" if half is None else half
    if use_half:
        plm.module.half()  # in place
    try:
        k = 0
        # no_grad rather than inference_mode: fair-esm caches rotary tables created here, and inference tensors
        # in that cache would make the same model object untrainable afterwards (e.g. for fine-tuning)
        with torch.no_grad():
            while k < len(pieces):
                width = pieces[k][2] - pieces[k][1] + 2
                n = max(1, token_budget // width)
                batch = pieces[k:k + n]
                k += len(batch)
                tokens = plm.tokens([seqs[i][s:e] for i, s, e in batch]).to(device)
                reps = spec.combine(plm.hidden_states(tokens, layers)).float().cpu()
                done = []
                for row, (i, s, e) in enumerate(batch):
                    emb = reps[row, 1:e - s + 1]
                    if remaining[i] == 1 and i not in partial:
                        done.append((i, emb.numpy().copy()))
                        remaining[i] = 0
                        continue
                    total, count = partial.setdefault(i, (torch.zeros(len(seqs[i]), emb.shape[1]),
                                                          torch.zeros(len(seqs[i]), 1)))
                    total[s:e] += emb
                    count[s:e] += 1
                    remaining[i] -= 1
                    if remaining[i] == 0:
                        total, count = partial.pop(i)
                        done.append((i, (total / count).numpy()))
                if done:
                    yield done
    finally:  # also when the caller stops early or an error escapes: never leave the model in fp16
        if use_half:
            plm.module.float()
