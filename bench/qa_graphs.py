"""Quality assessment on interface graphs against whole-complex graphs, side by side: one training step (graph
building, forward, backward) of the default QA model (EGNN, 128 channels) on a batch of 8 decoys of a DB5.5
test target, and the graphs' sizes. Baseline: the whole-complex graph (``quality.interface=false``, the model
before); measured: the interface graph (``quality.interface=true``), and the cost of its atom-level edge channels
(``quality.contacts=true``) against it. Prints the time per step of each (median of ``--repeats``) and the
ratios.

Run: ``python bench/qa_graphs.py [--targets 1AVX,1BVN,7CEI] [--repeats 5] [--device cuda]``
(reads INTERGRAPH_DATA/db5; the decoys are the source's seeded perturbations of each target)."""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

warnings.filterwarnings("ignore")


def main() -> None:
    from torch_geometric.data import Batch

    from intergraph.protein.complexes import ComplexSet
    from intergraph.protein.encoders import ResidueEncoder
    from intergraph.protein.featurize import GraphConfig
    from intergraph.protein.tasks.quality.decoys import perturbation_decoys
    from intergraph.protein.tasks.quality.model import CONTACT_DIM, QualityModel, decoy_graph

    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="1AVX,1BVN,7CEI")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    cset = ComplexSet("db5", form="b")
    print("| target | graph | nodes per decoy | edges per decoy | ms per step (8 decoys) |\n|---|---|---|---|---|")
    arms = {"whole complex": {}, "interface": {"interface": True},
            "interface + contacts": {"interface": True, "contacts": True}}
    ratios, costs = [], []
    for cid in args.targets.split(","):
        item = cset[cid]
        decoys = perturbation_decoys(cid, cset.structure(cid, "r", "b"), cset.structure(cid, "l", "b"), 8, seed=0)
        times = {}
        for arm, options in arms.items():
            torch.manual_seed(0)
            edges = GraphConfig().edge_scalar_dim + CONTACT_DIM * options.get("contacts", False)
            model = QualityModel(ResidueEncoder("egnn", out_dim=128, edge_s_dim=edges),
                                 sizes=options.get("interface", False)).to(args.device)
            opt = torch.optim.Adam(model.parameters(), 1e-4)
            runs = []
            for _ in range(args.repeats + 1):          # the first is warm-up
                t0 = time.perf_counter()
                batch = Batch.from_data_list([decoy_graph(item.receptor, item.ligand, d, **options)
                                              for d in decoys]).to(args.device)
                loss = model(batch).sigmoid().sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                runs.append(time.perf_counter() - t0)
            times[arm] = statistics.median(runs[1:])
            n = batch.num_graphs
            print(f"| {cid} | {arm} | {batch.num_nodes / n:.0f} | {batch.edge_index.shape[1] / n:.0f} | "
                  f"{1000 * times[arm]:.0f} |")
        ratios.append(times["whole complex"] / times["interface"])
        costs.append(times["interface + contacts"] / times["interface"])
    print(f"\ninterface graph vs whole complex, time per training step: {statistics.mean(ratios):.1f}x faster "
          f"(per target: {', '.join(f'{r:.1f}x' for r in ratios)}; {args.device})")
    print(f"atom-level edge channels on the interface graph: {statistics.mean(costs):.2f}x the time per step "
          f"(per target: {', '.join(f'{r:.2f}x' for r in costs)})")


if __name__ == "__main__":
    main()
