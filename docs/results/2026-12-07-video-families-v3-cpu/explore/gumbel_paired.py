"""The Gumbel-trained adaptive arm (gumbel.py) against the arms run's adaptive arm and the uniform mixture, both
protocols: mean over the 5 seeds, 95 % bootstrap over the test videos, overall and per family."""
import csv
from pathlib import Path

import numpy as np

from intergraph.video.arms import paired

here = Path(__file__).parent
correct, groups = {}, None
for seed in range(5):
    arms = list(csv.DictReader(open(here.parent / f"seed{seed}" / "predictions.csv")))
    mine = {r["video"]: r for r in csv.DictReader(open(here / f"gumbel_s{seed}.csv"))}
    for name, col, rows in [("gumbel, argmax", "argmax", None), ("gumbel, softmax", "softmax", None),
                            ("adaptive, argmax at test", None, arms), ("uniform mixture", None, arms)]:
        c = [int(mine[r["video"]][col] if col else r[name]) == int(r["label"]) for r in arms]
        correct.setdefault(name, []).append(np.array(c))
    groups = np.array([r["group"] for r in arms])
for name in correct:
    print(f"{name}: top-1 {np.mean([c.mean() for c in correct[name]]):.3f} ± "
          f"{np.std([c.mean() for c in correct[name]], ddof=1):.3f}; "
          + ", ".join(f"{g} {np.mean([c[groups == g].mean() for c in correct[name]]):.3f}"
                      for g in ("motion", "place", "crowd")))
for a, b in [("gumbel, argmax", "adaptive, argmax at test"), ("gumbel, argmax", "uniform mixture")]:
    for fam, keep in [("all", groups == groups), *[(g, groups == g) for g in ("motion", "place", "crowd")]]:
        m, lo, hi = paired({k: [c[keep] for c in correct[k]] for k in (a, b)}, a, b)
        print(f"{a} - {b}, {fam}: {100 * m:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
