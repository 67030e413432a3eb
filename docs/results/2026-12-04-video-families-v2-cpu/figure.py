"""figure.png from this folder's results.csv: top-1 per arm and family (mean over seeds, one dot per seed), and
the single operations by family. Usage: python figure.py [FOLDER]"""
import csv
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from intergraph.video.arms import ARMS  # noqa: E402  (the arms in the order of the tables)

here = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
rows = list(csv.DictReader(open(here / "results.csv")))
families = [k.split(":", 1)[1] for k in rows[0] if k.startswith("top1:")]
vals = defaultdict(lambda: defaultdict(list))
for r in rows:
    for f in families:
        vals[r["arm"]][f].append(float(r[f"top1:{f}"]))
arms = sorted((a for a in vals if not a.startswith("fixed:")), key=lambda a: ARMS.index(a) if a in ARMS else len(ARMS))
ops = [a for a in vals if a.startswith("fixed:")]
fig, axes = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [2.3, 1]})
ax = axes[0]
w = 0.26
for j, f in enumerate(families):
    x = np.arange(len(arms)) + (j - 1) * w
    ax.bar(x, [np.mean(vals[a][f]) for a in arms], w, label=f)
    for i, a in enumerate(arms):
        ax.plot([x[i]] * len(vals[a][f]), vals[a][f], "k.", ms=3)
ax.set_xticks(np.arange(len(arms)), arms, rotation=35, ha="right", fontsize=8)
ax.set(ylabel="test top-1 (bars: mean over seeds; dots: seeds)", ylim=(0, 1.05),
       title="families benchmark: every arm by family (dashed: chance for place, crowd; motion 0.25)")
ax.axhline(0.5, color="grey", lw=0.5, ls="--")
ax.legend(fontsize=8)
ax = axes[1]
m = np.array([[np.mean(vals[o][f]) for f in families] for o in ops])
im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
for i in range(len(ops)):
    for j in range(len(families)):
        ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="w" if m[i, j] < 0.6 else "k", fontsize=9)
ax.set_xticks(range(len(families)), families)
ax.set_yticks(range(len(ops)), [o.split(":", 1)[1] for o in ops])
ax.set_title("single operation on all edges")
fig.colorbar(im, ax=ax, fraction=0.05)
fig.tight_layout()
fig.savefig(here / "figure.png", dpi=110)
print(here / "figure.png")
