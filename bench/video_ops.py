"""Video graph operations, side by side in one run (CPU or GPU):

1. difference propagation at 160 nodes x 256 channels, forward + backward: ours (O(n^2) memory) vs the direct
   n x n x C formula of the official code; peak memory (each variant in its own fresh process: peak RSS on
   CPU, max allocated on a GPU), time, and the largest difference of the outputs;
2. one search step (forward + backward, 8 videos, 16 frames x 10 boxes = 160 object nodes, 7x7 background,
   256 channels, one cell of 3 steps over zero / identity / the five graph operations): ours vs a direct
   transcription of the official operations (written below from the paper's code: the n x n x C difference
   tensor, temporal tracks gathered from n stacked copies of all nodes, torch's depthwise convolution).

Run: python bench/video_ops.py   (goals: >= 10x less memory, identical output; search step >= 2x faster)
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import threading
import time

import torch
import torch.nn.functional as F
from torch import nn

from intergraph.search.cell import Cell
from intergraph.video.graph import VideoGraph
from intergraph.video.ops import BASIC_OPS, DifferencePropagation, OpSpace

B, T, N, M, C = 8, 16, 10, 49, 256
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


# --- direct transcription of the official operations (reference only) -----------------------------------
class DirectDiffProp(nn.Module):
    def __init__(self, ours: DifferencePropagation):
        super().__init__()
        self.ours = ours

    def forward(self, x, g):
        b, t, n, c = x.shape
        xf = x.reshape(b, t * n, c)
        a = self.ours.weights(xf, g.mask.reshape(b, t * n))
        diff = xf[:, :, None, :] - xf[:, None, :, :]  # (B, n, n, C)
        z = (a[..., None] * self.ours.affine(diff)).sum(2)
        return F.leaky_relu(self.ours.norm(z)).view_as(x) * g.mask[..., None]


class DirectTempConv(nn.Module):
    def __init__(self, c, kernel=7):
        super().__init__()
        self.w = nn.Parameter(torch.eye(c))
        self.conv = nn.Conv1d(c, c, kernel, groups=c, padding=kernel // 2)
        self.norm = nn.LayerNorm(c)

    def forward(self, x, g):
        b, t, n, c = x.shape
        xf = x.reshape(b, t * n, c)
        xn = F.normalize(xf, dim=-1)
        a = (xn @ self.w @ xn.transpose(1, 2)).view(b, t * n, t, n)
        top = a.argmax(-1)
        stacked = torch.stack([xf] * (t * n), 1).view(b, t * n, t, n, c)
        track = torch.gather(stacked, 3, top[..., None, None].expand(b, t * n, t, 1, c)).view(b * t * n, t, c)
        y = self.conv(track.transpose(1, 2)).transpose(1, 2)
        return F.leaky_relu(self.norm(y)).mean(1).view_as(x)


class DirectSpace(OpSpace):
    def __call__(self, name):
        if name == "diff_prop":
            return DirectDiffProp(DifferencePropagation(self.channels))
        if name == "temp_conv":
            return DirectTempConv(self.channels, self.kernel)
        return super().__call__(name)


def graph(seed=0) -> VideoGraph:
    g = torch.Generator().manual_seed(seed)
    return VideoGraph(torch.randn(B, T, N, C, generator=g), torch.randn(B, T, M, C, generator=g),
                      torch.rand(B, T, N, 9, generator=g), torch.ones(B, T, N, dtype=torch.bool)).to(DEVICE)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_memory(fn) -> int:
    """Peak extra memory of ``fn()``: max allocated on a GPU; on a CPU the resident set size, sampled every
    0.2 ms by a thread (freed memory is returned to the system between variants by glibc for large blocks)."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    base, peak, running = _rss(), [0], [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], _rss())
            time.sleep(0.0002)

    thread = threading.Thread(target=sample)
    thread.start()
    fn()
    running[0] = False
    thread.join()
    return max(peak[0], _rss()) - base


def _measure(which: str, queue) -> None:
    torch.manual_seed(0)
    op = DifferencePropagation(C).to(DEVICE)
    fn = op if which == "ours" else DirectDiffProp(op)
    g = graph()
    x = g.objects.clone().requires_grad_(True)
    queue.put(peak_memory(lambda: fn(x, g).square().sum().backward()))


def fresh_peak(which: str) -> int:
    """Peak memory of one forward + backward in a fresh process (no memory left resident by other runs)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(which, queue))
    proc.start()
    value = queue.get()
    proc.join()
    return value


def timed(fn, repeats=5):
    fn()
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    print(f"device: {DEVICE}; torch {torch.__version__}; {B} videos x {T} frames x {N} boxes = {T * N} nodes, "
          f"{C} channels")
    torch.manual_seed(0)
    op = DifferencePropagation(C).to(DEVICE)
    direct = DirectDiffProp(op)
    g = graph()
    with torch.no_grad():
        diff = (op(g.objects, g) - direct(g.objects, g)).abs().max().item()
    x = g.objects.clone().requires_grad_(True)
    t_ours = timed(lambda: op(x, g).square().sum().backward())
    t_direct = timed(lambda: direct(x, g).square().sum().backward())
    m_ours, m_direct = fresh_peak("ours"), fresh_peak("direct")
    print("\n1. difference propagation, forward + backward")
    print(f"   ours:   {m_ours / 2**20:8.1f} MiB peak, {1000 * t_ours:8.1f} ms")
    print(f"   direct: {m_direct / 2**20:8.1f} MiB peak, {1000 * t_direct:8.1f} ms")
    print(f"   memory ratio {m_direct / max(m_ours, 1):.1f}x less, time ratio {t_direct / t_ours:.1f}x, "
          f"max |difference| {diff:.2e}")

    steps = []
    for name, space_cls in (("ours", OpSpace), ("direct", DirectSpace)):
        torch.manual_seed(0)
        space = space_cls(C, T, N, M, kernel=7, identity_dropout=0.0)
        cell = Cell(space, BASIC_OPS, steps=3).to(DEVICE)
        weights = [torch.full((B, len(BASIC_OPS)), 1.0 / len(BASIC_OPS), device=DEVICE, requires_grad=True)
                   for _ in cell.edges]
        x = g.objects.clone().requires_grad_(True)
        steps.append(timed(lambda: cell(x, weights, g).square().mean().backward(), repeats=3))
    print("\n2. one search step (forward + backward)")
    print(f"   ours:   {1000 * steps[0]:8.0f} ms\n   direct: {1000 * steps[1]:8.0f} ms\n"
          f"   ratio {steps[1] / steps[0]:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
