"""PLM extraction throughput: one sequence at a time vs token-budget batching, side by side.

Model: the ESM-2 8M architecture (6 layers, 320 wide, 20 heads; random weights — speed does not depend on
them). Sequences: the 148 real DB5 chains of the shared ESM-2 data. Prints residues/s for both and the
ratio (goal >= 3x). Runs on the GPU when there is one (half precision there), else on the CPU.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def main() -> int:
    import numpy as np
    import torch

    from intergraph.protein.plm.backends import load_plm
    from intergraph.protein.plm.convert import save_fair_esm
    from intergraph.protein.plm.extract import LayerSpec, embed
    from intergraph.protein.plm.pretrain import PretrainConfig, build_model

    data = Path(os.environ.get("INTERGRAPH_DATA", "../shared/data")) / "esm2_650m_db5"
    if len(sys.argv) > 1:  # a FASTA of the same chains, for machines without the data folder
        from intergraph.protein.fasta import read_fasta

        seqs = [s for _, s in read_fasta(sys.argv[1])]
    elif data.is_dir():
        seqs = [str(np.load(f)["seq"]) for f in sorted(data.glob("*.npz"))]
    else:
        print(f"{data} not found: set INTERGRAPH_DATA", file=sys.stderr)
        return 2
    residues = sum(map(len, seqs))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = build_model(PretrainConfig(fasta="", out="", layers=6, dim=320, heads=20))
        path = save_fair_esm(model, Path(tmp) / "esm2_t6_320D_bench.pt", layers=6, dim=320, heads=20)
        plm = load_plm(path)
    plm.module.to(device)
    spec = LayerSpec()

    def run(budget: int, subset: list[str]) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in embed(plm, subset, spec, token_budget=budget):
            pass
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    run(4096, seqs[:4])  # warm-up
    one = min(run(1, seqs), run(1, seqs))  # a budget of 1 token: every batch holds a single sequence
    batched = {b: min(run(b, seqs), run(b, seqs)) for b in (4096, 16384)}
    print(f"device: {device}{' (' + torch.cuda.get_device_name(0) + ', fp16)' if device == 'cuda' else ''}, "
          f"threads: {torch.get_num_threads()}; {len(seqs)} DB5 chains, {residues} residues; ESM-2 8M architecture")
    print(f"one sequence at a time: {residues / one:9.0f} residues/s")
    for b, t in batched.items():
        print(f"token budget {b:6d}:    {residues / t:9.0f} residues/s   ratio {one / t:.2f}x (goal >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
