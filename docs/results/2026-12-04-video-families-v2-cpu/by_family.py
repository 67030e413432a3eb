"""Paired differences within each family (95 % bootstrap over that family's test videos, one resample for all
seeds), from this folder's seed*/predictions.csv. Usage: python by_family.py [FOLDER]"""
import csv
import sys
from pathlib import Path

import numpy as np

from intergraph.video.arms import paired

here = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
seeds = sorted(here.glob("seed*/predictions.csv"))
pred = [list(csv.DictReader(open(p))) for p in seeds]
arms = [k for k in pred[0][0] if k not in ("video", "label", "group")]
print(f"| family | difference (top-1 points, {len(seeds)} seeds) | mean | 95 % interval |\n|---|---|---|---|")
for fam in ("motion", "place", "crowd"):
    corr = {a: [np.array([int(r[a]) == int(r["label"]) for r in p if r["group"] == fam]) for p in pred] for a in arms}
    for a, b in [("oracle routing", "uniform mixture"), ("oracle routing, chosen on validation", "uniform mixture"),
                 ("adaptive + derived", "uniform mixture"), ("adaptive, softmax at test", "uniform mixture"),
                 ("adaptive, argmax at test", "uniform mixture"),
                 ("adaptive, argmax at test", "adaptive, softmax at test")]:
        m, lo, hi = paired(corr, a, b)
        print(f"| {fam} | {a} − {b} | {100 * m:+.1f} | [{100 * lo:+.1f}, {100 * hi:+.1f}] |")
