"""Choose the docking score's term weights on DB5.5 training complexes (EquiDock's split, bound structures): each
candidate weight vector is judged by the rank of the native funnel among the search's own best poses under it
(:func:`weights.funnel_rank`), and the candidates are written with their per-complex ranks to
``intergraph/protein/resources/docking_weights_db5_train.json``. The search pools are cached under ``--cache``.

Run: ``python scripts/choose_docking_weights.py [--complexes 20] [--step 30]`` (reads ``INTERGRAPH_DATA/db5``)."""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch

from intergraph.protein.db5 import DB5
from intergraph.protein.tasks.docking.grids import Body, GridSpec
from intergraph.protein.tasks.docking.potential import read
from intergraph.protein.tasks.docking.search import WEIGHTS, SearchConfig
from intergraph.protein.tasks.docking.weights import Pool, complex_pool, funnel_rank, native_pose

CANDIDATES = {"shape": {"shape": 1.0, "clash": -3.0}, "shape+pair": {"shape": 1.0, "clash": -3.0, "pair": 5.0}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--complexes", type=int, default=20)
    ap.add_argument("--step", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("runs/docking_weight_pools"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    db5 = DB5(split="train")
    ids = sorted(random.Random(args.seed).sample(sorted(db5.ids), args.complexes))
    cfg = SearchConfig(step=args.step, grid=GridSpec())
    potential = read()
    args.cache.mkdir(parents=True, exist_ok=True)
    ranks: dict[str, dict[str, int]] = {arm: {} for arm in CANDIDATES}
    for n, cid in enumerate(ids):
        t0 = time.time()
        path = args.cache / f"{cid}.pt"
        # the bound partners: their principal frames make the input pose irrelevant
        rec, lig = (Body.from_structure(db5.structure(cid, r, "b")) for r in "rl")
        native = native_pose(rec, lig, rec, lig)
        cached = torch.load(path) if path.exists() else [None] * len(CANDIDATES)
        got = [complex_pool(rec, lig, native, cfg, w, potential, search=None if c is None else Pool(**c))
               for w, c in zip(CANDIDATES.values(), cached)]
        torch.save([{"terms": search.terms, "near": search.near} for search, _ in got], path)
        for (arm, w), (search, funnel) in zip(CANDIDATES.items(), got):
            ranks[arm][cid] = funnel_rank(search, funnel, w)
        print(f"[{n + 1}/{len(ids)}] {cid}: funnel rank " + ", ".join(f"{a} {ranks[a][cid]}" for a in ranks) +
              f" ({time.time() - t0:.0f} s)", flush=True)
    summary = {arm: {"median_rank": statistics.median(r.values()), "top10": sum(v <= 10 for v in r.values()),
                     "top1": sum(v == 1 for v in r.values())} for arm, r in ranks.items()}
    out = Path(__file__).resolve().parents[1] / "intergraph" / "protein" / "resources" / WEIGHTS
    out.write_text(json.dumps({
        "chosen_on": {"complexes": ids, "split": "DB5.5 train (EquiDock)", "step": args.step, "seed": args.seed,
                      "pool": 300, "criterion": "rank of the native funnel among the search's best 300 poses"},
        "command": f"python scripts/choose_docking_weights.py --complexes {args.complexes} --step {args.step} "
                   f"--seed {args.seed}",
        "summary": summary, "ranks": ranks, "arms": CANDIDATES}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
