"""PLM costs, side by side in one run.

1. Extraction throughput, one sequence at a time vs token-budget batching. Model: the ESM-2 8M
   architecture (6 layers, 320 wide, 20 heads; random weights — speed does not depend on them).
   Sequences: the 148 real DB5 chains of the shared ESM-2 data (goal >= 3x). GPU (fp16) when present.
2. A training epoch of the paper's GVP-GNN (5 layers, (100, 16)) for interface prediction on DB5
   complexes, each item loaded through the data set (cached graphs), with ESM-2 650M features read from
   the embedding store and aligned at load time vs without PLM features (goal <= 1.15x).
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
    if data.is_dir():
        epoch_with_and_without_plm(device)
    return 0


def epoch_with_and_without_plm(device: str, n: int = 16) -> None:
    import torch
    from torch.utils.data import DataLoader

    from intergraph.protein.complexes import collate_pairs as collate
    from intergraph.protein.db5 import DB5
    from intergraph.protein.plm.arms import resolve
    from intergraph.protein.run import ModelConfig
    from intergraph.protein.tasks import task
    from intergraph.protein.tasks.interface.model import InterfaceTask
    from intergraph.protein.tasks.interface.run import InterfaceRun

    build_model = task("interface").build_model
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        source = resolve("esm2_650m", tmp)
        ids = DB5(plm=source).ids_with_embeddings()[:n]
        arms = {"without PLM": DB5(ids=ids, cache_dir=cache),
                "with ESM-2 650M": DB5(ids=ids, cache_dir=cache, plm=source)}
        [arms["without PLM"][i] for i in ids]  # build the graph cache once, outside the timing
        times: dict[str, float] = {}
        models = {}
        for name, ds in arms.items():
            torch.manual_seed(0)
            cfg = InterfaceRun(model=ModelConfig(encoder="gvp"))
            models[name] = build_model(cfg, 1280 if ds.plm else None).to(device)
        task = InterfaceTask()
        for _ in range(2):  # alternate the arms; keep each one's best epoch
            for name, ds in arms.items():
                model = models[name]
                opt = torch.optim.Adam(model.parameters(), lr=1e-4)
                loader = DataLoader(list(range(len(ds))), batch_size=4,
                                    collate_fn=lambda idx, ds=ds: collate([ds[i] for i in idx]))
                t0 = time.perf_counter()
                for batch in loader:
                    batch = batch.to(device)
                    loss = task.loss(model(batch), batch)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                if device == "cuda":
                    torch.cuda.synchronize()
                times[name] = min(times.get(name, float("inf")), time.perf_counter() - t0)
    base = times["without PLM"]
    print(f"GVP-GNN interface epoch over {len(ids)} DB5 complexes (batch 4, data loading included):")
    for name, t in times.items():
        print(f"  {name:16s} {t:7.2f} s   ratio {t / base:.3f}x (goal <= 1.15x)")


if __name__ == "__main__":
    sys.exit(main())
