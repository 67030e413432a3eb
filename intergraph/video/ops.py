"""Graph operations on the object nodes of videos (Li et al., CVPR 2020), batched and mask-aware.

Every operation maps object features x (B, T, N, C) to (B, T, N, C), given the video's graph (background
nodes, layout, mask); padded nodes are never attended to and their outputs are zero. Affinities use
L2-normalised features and a learned C×C matrix W_s initialised to the identity, sharpened by a factor 5;
operations end with LayerNorm + LeakyReLU as in the paper's code. Departures from that code, each for a
stated reason:
- difference propagation never builds the (n, n, C) difference tensor: Σ_j A_ij (W(x_i − x_j) + b) =
  (Σ_j A_ij)(W x_i + b) − (A W x)_i, so memory is O(n²) instead of O(n² C);
- temporal convolution gathers each node's track directly (O(n T C), not a stack of n copies) and scales the
  gathered features by p / p.detach() (value 1) so that W_s, which only picks the argmax, still learns;
  the depthwise convolution is zero-padded ("same", the default) so that clips shorter than the kernel work;
  ``padding="valid"`` is the paper code's (only the T − k + 1 windows that fit, then their mean);
- identity's dropout is configurable (the paper's code: 0.5).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..search.cell import ZERO
from .graph import LAYOUT_DIM, VideoGraph

SHARPEN = 5.0
BASIC_OPS = [ZERO, "identity", "feat_aggr", "diff_prop", "temp_conv", "back_incor", "node_att"]
COMPOSITE_OPS = [ZERO, "identity", "comb_diff", "comb_temp", "comb_back"]
PRESETS = {"basic": BASIC_OPS, "paper": COMPOSITE_OPS}


class Affinity(nn.Module):
    """s_ij = x̂_i^T W_s ŷ_j with W_s initialised to the identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) @ self.weight @ F.normalize(y, dim=-1).transpose(-1, -2)


def _finish(norm: nn.LayerNorm, z: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(norm(z))


def _flat(x: torch.Tensor, g: VideoGraph) -> tuple[torch.Tensor, torch.Tensor]:
    b, t, n, c = x.shape
    return x.reshape(b, t * n, c), g.mask.reshape(b, t * n)


class FeatureAggregation(nn.Module):
    """z_i = Σ_j softmax_j(5 s_ij) (W x_j + b) over all valid nodes of the video."""

    def __init__(self, channels: int):
        super().__init__()
        self.affinity, self.affine = Affinity(channels), nn.Linear(channels, channels)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor, g: VideoGraph) -> torch.Tensor:
        xf, m = _flat(x, g)
        s = (SHARPEN * self.affinity(xf, xf)).masked_fill(~m[:, None, :], float("-inf"))
        a = torch.softmax(s, dim=-1).nan_to_num(0.0)  # a video without valid nodes: no messages
        z = _finish(self.norm, a @ self.affine(xf))
        return z.view_as(x) * g.mask[..., None]


class DifferencePropagation(nn.Module):
    """z_i = Σ_{j≠i} A_ij (W(x_i − x_j) + b), A_ij ∝ exp(5 s_ij) normalised to sum 1 over valid j ≠ i."""

    def __init__(self, channels: int):
        super().__init__()
        self.affinity, self.affine = Affinity(channels), nn.Linear(channels, channels)
        self.norm = nn.LayerNorm(channels)

    def weights(self, xf: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        n = xf.shape[1]
        valid = m[:, None, :] & ~torch.eye(n, dtype=torch.bool, device=xf.device)
        s = (SHARPEN * self.affinity(xf, xf)).masked_fill(~valid, float("-inf"))
        top = s.amax(dim=-1, keepdim=True).detach()
        e = torch.exp(s - torch.where(torch.isinf(top), torch.zeros_like(top), top))
        return e / e.sum(dim=-1, keepdim=True).clamp_min(1e-12)

    def forward(self, x: torch.Tensor, g: VideoGraph) -> torch.Tensor:
        xf, m = _flat(x, g)
        a = self.weights(xf, m)
        wx = xf @ self.affine.weight.T
        z = a.sum(dim=-1, keepdim=True) * (wx + self.affine.bias) - a @ wx
        return _finish(self.norm, z).view_as(x) * g.mask[..., None]


class ShiftConv(torch.autograd.Function):
    """Depthwise, zero-padded ("same") 1-D convolution over dim 1 of (M, T, C) as k shifted multiply-adds,
    forward and backward by hand: torch's depthwise kernels are slow on CPUs for the short sequences of
    temporal convolution, and autograd through slices allocates a padded zero tensor per shift."""

    @staticmethod
    def forward(ctx, seq, weight, bias):  # seq (M, T, C), weight (C, k), bias (C,)
        k, t = weight.shape[1], seq.shape[1]
        left = (k - 1) // 2  # as torch's padding="same"
        padded = F.pad(seq, (0, 0, left, k - 1 - left))
        out = bias.expand_as(seq).clone()
        for j in range(k):
            out.addcmul_(padded[:, j:j + t], weight[:, j])
        ctx.save_for_backward(padded, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        padded, weight = ctx.saved_tensors
        k, t = weight.shape[1], grad.shape[1]
        g_seq = g_weight = g_bias = None
        if ctx.needs_input_grad[0]:  # correlation with the reversed kernel
            left = (k - 1) // 2
            gpad = F.pad(grad, (0, 0, k - 1 - left, left))
            g_seq = torch.zeros_like(grad)
            for j in range(k):
                g_seq.addcmul_(gpad[:, k - 1 - j:k - 1 - j + t], weight[:, j])
        if ctx.needs_input_grad[1]:
            g_weight = torch.stack([(grad * padded[:, j:j + t]).sum(dim=(0, 1)) for j in range(k)], dim=1)
        if ctx.needs_input_grad[2]:
            g_bias = grad.sum(dim=(0, 1))
        return g_seq, g_weight, g_bias


class TemporalConvolution(nn.Module):
    """For every node, its most similar valid node in each frame forms a track; a depthwise 1-D convolution
    over time (kernel 7; "same": T outputs over a zero-padded track, "valid": the T − k + 1 windows that fit),
    LayerNorm + LeakyReLU, then the mean over time."""

    def __init__(self, channels: int, kernel: int = 7, padding: str = "same", frames: int | None = None):
        super().__init__()
        if padding not in ("same", "valid"):
            raise InputError(f"temporal convolution padding must be same or valid, not {padding!r}")
        if padding == "valid" and frames is not None and frames < kernel:
            raise InputError(f"a valid temporal convolution of kernel {kernel} needs at least {kernel} time steps, "
                             f"the graph has {frames}")
        self.affinity = Affinity(channels)
        self.conv = nn.Conv1d(channels, channels, kernel, groups=channels, padding="same")
        self.norm = nn.LayerNorm(channels)
        self.padding = padding

    def depthwise(self, seq: torch.Tensor) -> torch.Tensor:
        """The depthwise convolution of (M, T, C) sequences over T -> (M, T, C) ("same": the result of
        ``self.conv`` on (M, C, T), a few times faster on CPUs for short clips, see :class:`ShiftConv`) or
        (M, T − k + 1, C) ("valid": the outputs whose window lies inside the track, where zero padding adds
        nothing)."""
        out = ShiftConv.apply(seq, self.conv.weight[:, 0], self.conv.bias)
        if self.padding == "valid":
            k = self.conv.weight.shape[-1]
            left = (k - 1) // 2
            out = out[:, left:seq.shape[1] - (k - 1 - left)]
        return out

    def tracks(self, x: torch.Tensor, g: VideoGraph) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T·N, T, C) track of every node and (B, T·N, T) index of the chosen node per frame."""
        b, t, n, c = x.shape
        xf, _ = _flat(x, g)
        s = (SHARPEN * self.affinity(xf, xf)).view(b, t * n, t, n)
        s = s.masked_fill(~g.mask[:, None, :, :], float("-inf"))
        p = torch.softmax(s, dim=-1).nan_to_num(0.0)
        idx = s.argmax(dim=-1)  # (B, T·N, T)
        picked = torch.gather(p, -1, idx[..., None])  # (B, T·N, T, 1)
        # row of (video, frame, chosen node) in x flattened to (B·T·N, C): a plain index, whose backward is a
        # small index_add (gathering from an expanded (B, T·N, T, N, C) view would allocate all of it)
        rows = (torch.arange(b, device=x.device).view(b, 1, 1) * t + torch.arange(t, device=x.device)) * n + idx
        track = x.reshape(b * t * n, c)[rows]
        present = g.mask.any(dim=-1)[:, None, :, None]  # frames with no valid node contribute zeros
        gate = picked / picked.detach().clamp_min(1e-12)
        return track * gate * present, idx

    def forward(self, x: torch.Tensor, g: VideoGraph) -> torch.Tensor:
        b, t, n, c = x.shape
        track, _ = self.tracks(x, g)
        y = _finish(self.norm, self.depthwise(track.reshape(b * t * n, t, c))).mean(dim=1)
        return y.view_as(x) * g.mask[..., None]


class BackgroundIncorporation(nn.Module):
    """Each node attends over the background grid of its own frame; the attended feature, concatenated with
    the raw affinities to the M grid cells, is projected back to C."""

    def __init__(self, channels: int, n_background: int):
        super().__init__()
        self.affinity = Affinity(channels)
        self.affine = nn.Linear(channels + n_background, channels)
        self.norm = nn.LayerNorm(channels)
        self.n_background = n_background

    def forward(self, x: torch.Tensor, g: VideoGraph) -> torch.Tensor:
        if g.background.shape[2] != self.n_background:
            raise InputError(f"background incorporation was built for {self.n_background} background nodes per "
                             f"frame, got {g.background.shape[2]}")
        raw = self.affinity(x, g.background)  # (B, T, N, M)
        att = torch.softmax(SHARPEN * raw, dim=-1) @ g.background
        z = _finish(self.norm, self.affine(torch.cat([att, raw], dim=-1)))
        return z * g.mask[..., None]


class NodeAttention(nn.Module):
    """x_i · sigmoid(Linear([cosine similarities of i to every node; layout of i]))."""

    def __init__(self, channels: int, n_nodes: int):
        super().__init__()
        self.gate = nn.Linear(n_nodes + LAYOUT_DIM, 1)
        self.n_nodes = n_nodes

    def forward(self, x: torch.Tensor, g: VideoGraph) -> torch.Tensor:
        xf, m = _flat(x, g)
        if xf.shape[1] != self.n_nodes:
            raise InputError(f"node attention was built for {self.n_nodes} nodes per video, got {xf.shape[1]}")
        xn = F.normalize(xf, dim=-1)
        s = (xn @ xn.transpose(1, 2)) * m[:, None, :]
        gate = torch.sigmoid(self.gate(torch.cat([s, g.layout.reshape(*s.shape[:2], LAYOUT_DIM)], dim=-1)))
        return x * gate.view(*x.shape[:3], 1) * g.mask[..., None]


class Identity(nn.Module):
    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, g: VideoGraph) -> torch.Tensor:
        return self.dropout(x) * g.mask[..., None]


class Composite(nn.Module):
    """Operations applied one after the other (the paper code's composite operations)."""

    def __init__(self, *ops: nn.Module):
        super().__init__()
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, g: VideoGraph) -> torch.Tensor:
        for op in self.ops:
            x = op(x, g)
        return x


@dataclass
class OpSpace:
    """Builds operations by name for graphs of a fixed size."""

    channels: int
    frames: int
    nodes_per_frame: int
    background_per_frame: int
    kernel: int = 7
    identity_dropout: float = 0.5
    temporal_padding: str = "same"  # temporal convolution: "same" or "valid" (the paper's code)

    def __call__(self, name: str) -> nn.Module:
        c, n = self.channels, self.frames * self.nodes_per_frame
        base = {
            "identity": lambda: Identity(self.identity_dropout),
            "feat_aggr": lambda: FeatureAggregation(c),
            "diff_prop": lambda: DifferencePropagation(c),
            "temp_conv": lambda: TemporalConvolution(c, self.kernel, self.temporal_padding, self.frames),
            "back_incor": lambda: BackgroundIncorporation(c, self.background_per_frame),
            "node_att": lambda: NodeAttention(c, n),
        }
        head = {"comb_diff": "diff_prop", "comb_temp": "temp_conv", "comb_back": "back_incor"}
        if name in base:
            return base[name]()
        if name in head:
            return Composite(base[head[name]](), base["feat_aggr"](), base["node_att"]())
        raise InputError(f"unknown graph operation {name!r}; known: {sorted(base) + sorted(head) + [ZERO]}")


def candidates(ops: str | list[str]) -> list[str]:
    """A preset name ("basic", "paper") or a comma-separated list of operation names."""
    if isinstance(ops, str):
        ops = PRESETS.get(ops) or [o.strip() for o in ops.split(",") if o.strip()]
    known = set(BASIC_OPS + COMPOSITE_OPS)
    unknown = [o for o in ops if o not in known]
    if unknown or not ops:
        raise InputError(f"unknown graph operation {unknown[0]!r}; known: {sorted(known)}" if unknown
                         else "no candidate operations given")
    return list(ops)
