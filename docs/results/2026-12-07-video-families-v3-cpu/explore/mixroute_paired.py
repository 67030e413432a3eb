"""The exploratory routed network (hand-chosen `motion` route, the uniform mixture for `place` and `crowd`, no
shared warm-up; mixroute.py) against the uniform mixture arm: mean over the 5 seeds, 95 % bootstrap over the test
videos, overall and per family, from the copies of its runs' predictions here. Usage:
python docs/results/2026-12-07-video-families-v3-cpu/explore/mixroute_paired.py"""
import csv
from pathlib import Path

import numpy as np

from intergraph.video.arms import paired

here = Path(__file__).parent
correct = {"mixroute": [], "uniform mixture": []}
groups = None
for seed in range(5):
    arms = list(csv.DictReader(open(here.parent / f"seed{seed}" / "predictions.csv")))
    # seeds 1 and 2: the validation oracle trained this very config (byte-identical files), kept there only
    run = here / f"mixroute_s{seed}_sh0"
    run = run if run.exists() else here.parent / f"seed{seed}" / "oracle_routing_validation_shared0"
    mine = {r["video"]: int(r["predicted"]) for r in csv.DictReader(open(run / "predictions.csv"))}
    correct["mixroute"].append(np.array([mine[r["video"]] == int(r["label"]) for r in arms]))
    correct["uniform mixture"].append(np.array([int(r["uniform mixture"]) == int(r["label"]) for r in arms]))
    groups = np.array([r["group"] for r in arms])
    print(f"seed {seed}: routed {correct['mixroute'][-1].mean():.3f}, "
          f"mixture {correct['uniform mixture'][-1].mean():.3f}")
for name, keep in [("all", groups == groups), *[(g, groups == g) for g in ("motion", "place", "crowd")]]:
    m, lo, hi = paired({k: [c[keep] for c in v] for k, v in correct.items()}, "mixroute", "uniform mixture")
    acc = np.mean([c[keep].mean() for c in correct["mixroute"]])
    print(f"{name}: routed {acc:.3f}; routed - mixture {100 * m:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
