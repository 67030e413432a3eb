"""Docking search: the FFT correlation against the same score evaluated directly, side by side, and the cost of a
search against protein size.

1. FFT vs direct: for a few rotations of one DB5.5 test complex (1AVX), the FFT scores every translation of the
   grid at once; the direct score (:func:`direct_terms`: the receptor channels looked up at the ligand's points
   of each pose) is timed on a sample of the same poses, checked equal, and its time per pose scaled to all
   translations.
2. Size: the time per rotation of the default search (one arm, shape + pair) on DB5.5 test complexes of growing
   size, the grid it needs, and the implied time of a full search at the default 15° step (4,401 rotations).
3. With a GPU (``--device cuda``): the same rotations on CPU and GPU, scores equal to tolerance, and the ratio.
4. Refinement of one cluster head (the local rotations of the default 15° search, translations within 3 Å):
   the whole-grid FFT per rotation masked to the ball (how heads were refined before) against :class:`LocalScorer`
   (the score looked up directly at the ball's voxels); the same best scores, and the ratio.

Run: ``python bench/docking_search.py [--device cuda]`` (reads INTERGRAPH_DATA/db5)."""
from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")


def main() -> None:
    from intergraph.graph.rigid import rotation_count, rotation_set
    from intergraph.protein.io import read_structure
    from intergraph.protein.tasks.docking import potential
    from intergraph.protein.tasks.docking.grids import Body, GridSpec, potential_channels, receptor_grid
    from intergraph.protein.tasks.docking.search import (
        Correlator,
        LocalScorer,
        Poses,
        SearchConfig,
        direct_terms,
        fitted_weights,
        local_rotations,
        weight_matrix,
    )

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() if args.device != "cpu" else min(2, os.cpu_count()))
    root = Path(os.environ.get("INTERGRAPH_DATA", "../shared/data")) / "db5" / "docking_test" / "random_transformed"
    pair = potential_channels(potential.read(), 3)
    w = weight_matrix([fitted_weights("shape+pair")])

    def bodies(cid):
        return tuple(Body.from_structure(read_structure(root / f"{cid}_{r}_b.pdb.gz")) for r in "rl")

    rec, lig = bodies("1AVX")
    grid = receptor_grid(rec, lig.radius, GridSpec(), pair)
    corr = Correlator(grid, lig, w, pair)
    rots = rotation_set(rotation_count(15))[:4]
    t0 = time.perf_counter()
    s = corr.scores(rots)[:, 0]
    fft_time = time.perf_counter() - t0
    g = torch.Generator().manual_seed(0)
    vox = torch.stack([torch.randint(0, n, (64,), generator=g) for n in grid.shape], 1)
    r = rots.repeat_interleave(16, 0)
    poses = Poses(r, grid.origin.double() + vox.double() * grid.spec.spacing, torch.zeros(64))
    t0 = time.perf_counter()
    direct = direct_terms(grid, lig, poses, pair) @ w[0]
    direct_per_pose = (time.perf_counter() - t0) / 64
    fft = s[torch.arange(4).repeat_interleave(16), vox[:, 0], vox[:, 1], vox[:, 2]].double()
    err = float((fft - direct).abs().max())
    translations = grid.shape[0] * grid.shape[1] * grid.shape[2]
    print(f"1. 1AVX, grid {grid.shape} ({translations:,} translations), 4 rotations: FFT {fft_time:.2f} s; direct "
          f"{direct_per_pose * 1e3:.1f} ms/pose -> {direct_per_pose * translations * 4:.0f} s for the same poses; "
          f"ratio direct/FFT = {direct_per_pose * translations * 4 / fft_time:,.0f}x; max |FFT - direct| = {err:.2e}")
    print("2. time per rotation against size (one arm, shape + pair, 1.2 Å grid):")
    for cid in ("1AVX", "1JPS", "1H1V", "1N2C"):
        rec, lig = bodies(cid)
        grid = receptor_grid(rec, lig.radius, GridSpec(), pair)
        corr = Correlator(grid, lig, w, pair)
        rots = rotation_set(rotation_count(15))[:2 * corr.batch]
        corr.scores(rots[:1])
        t0 = time.perf_counter()
        for k in range(0, len(rots), corr.batch):
            corr.scores(rots[k:k + corr.batch])
        per = (time.perf_counter() - t0) / len(rots)
        print(f"   {cid}: {len(rec.types)} + {len(lig.types)} residues, grid {grid.shape}: {per * 1e3:.0f} ms/rotation"
              f" -> {per * 4401 / 60:.1f} min at 15° (4,401 rotations)")
    if args.device != "cpu":
        rec, lig = bodies("1AVX")
        rots = rotation_set(rotation_count(15))[:16]
        out = {}
        for dev in ("cpu", args.device):
            grid = receptor_grid(rec, lig.radius, GridSpec(), pair, torch.device(dev))
            corr = Correlator(grid, lig, w, pair)
            corr.scores(rots[:2])
            t0 = time.perf_counter()
            out[dev] = corr.scores(rots).cpu()
            if dev != "cpu":
                torch.cuda.synchronize()
            out[dev + "_t"] = time.perf_counter() - t0
        diff = float((out["cpu"] - out[args.device]).abs().max())
        print(f"3. 16 rotations of 1AVX: CPU {out['cpu_t']:.2f} s, {args.device} {out[args.device + '_t']:.3f} s, "
              f"ratio {out['cpu_t'] / out[args.device + '_t']:.0f}x; max |CPU - GPU| = {diff:.2e}")

    rec, lig = bodies("1AVX")
    grid = receptor_grid(rec, lig.radius, GridSpec(), pair)
    corr = Correlator(grid, lig, w, pair)
    cfg = SearchConfig()
    rots = local_rotations(cfg.step, cfg.refine_factor) @ rotation_set(rotation_count(15))[7]
    head = corr.scores(rots[:1])[0, 0]
    centre = torch.tensor(divmod_3(int(head.flatten().argmax()), grid.shape), dtype=torch.float64)
    translation = grid.origin.double() + centre * grid.spec.spacing
    t0 = time.perf_counter()
    axes = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in grid.shape), indexing="ij")
    ball = sum((a - c) ** 2 for a, c in zip(axes, centre)) <= (cfg.refine_shift / grid.spec.spacing) ** 2
    fft = torch.cat([corr.scores(rots[k:k + corr.batch])[:, 0].masked_fill(~ball, -torch.inf).flatten(1).max(1).values
                     for k in range(0, len(rots), corr.batch)])
    fft_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    direct = LocalScorer(grid, lig, pair, w[0]).best_near(rots, translation, cfg.refine_shift)
    direct_time = time.perf_counter() - t0
    err = float((fft.double() - direct.score).abs().max())
    print(f"4. refining one 1AVX head ({len(rots)} local rotations, {int(ball.sum())} voxels within "
          f"{cfg.refine_shift} Å): whole-grid FFT masked {fft_time:.2f} s, direct at the ball {direct_time:.2f} s: "
          f"ratio FFT/direct = {fft_time / direct_time:.1f}x; max |difference| of the best scores = {err:.2e}")


def divmod_3(flat: int, shape) -> tuple[int, int, int]:
    """Voxel (x, y, z) of a flat index into a grid of ``shape``."""
    return flat // (shape[1] * shape[2]), (flat // shape[2]) % shape[1], flat % shape[2]


if __name__ == "__main__":
    main()
