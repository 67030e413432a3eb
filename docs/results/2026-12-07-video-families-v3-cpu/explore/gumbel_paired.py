"""The Gumbel-trained adaptive arm (gumbel.py; from the first epoch, and after the 2-epoch warm-up on mixtures)
against the arms run's adaptive arm and the uniform mixture, both protocols: mean over the 5 seeds, 95 % bootstrap
over the test videos, overall and per family."""
import csv
from pathlib import Path

import numpy as np

from intergraph.video.arms import paired

here = Path(__file__).parent
correct, groups = {}, None
for seed in range(5):
    arms = list(csv.DictReader(open(here.parent / f"seed{seed}" / "predictions.csv")))
    runs = {"gumbel": f"gumbel_s{seed}_t1.csv", "gumbel after warm-up": f"gumbel_s{seed}_t1_from2.csv"}
    mine = {k: {r["video"]: r for r in csv.DictReader(open(here / f))} for k, f in runs.items()}
    for name in ("adaptive, argmax at test", "adaptive, softmax at test", "uniform mixture"):
        correct.setdefault(name, []).append(np.array([int(r[name]) == int(r["label"]) for r in arms]))
    for k in runs:
        for col in ("argmax", "softmax"):
            c = [int(mine[k][r["video"]][col]) == int(r["label"]) for r in arms]
            correct.setdefault(f"{k}, {col}", []).append(np.array(c))
    groups = np.array([r["group"] for r in arms])
for name in correct:
    print(f"{name}: top-1 {np.mean([c.mean() for c in correct[name]]):.3f} ± "
          f"{np.std([c.mean() for c in correct[name]], ddof=1):.3f}; "
          + ", ".join(f"{g} {np.mean([c[groups == g].mean() for c in correct[name]]):.3f}"
                      for g in ("motion", "place", "crowd")))
for a, b in [("gumbel, argmax", "adaptive, argmax at test"), ("gumbel, argmax", "uniform mixture"),
             ("gumbel after warm-up, argmax", "adaptive, argmax at test"),
             ("gumbel after warm-up, argmax", "uniform mixture")]:
    for fam, keep in [("all", groups == groups), *[(g, groups == g) for g in ("motion", "place", "crowd")]]:
        m, lo, hi = paired({k: [c[keep] for c in correct[k]] for k in (a, b)}, a, b)
        print(f"{a} - {b}, {fam}: {100 * m:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
