"""The exact code behind this folder's tables (no `intergraph` command makes them yet): the shipped-label check
and the reference-free baselines on psr_casp13. Run with INTERGRAPH_DATA set; about 5 min (labels) and 4 min
(baselines) on the 2-core CPU machine."""
import csv
import json
import sys
from pathlib import Path

import numpy as np

from intergraph.protein.io import read_structure
from intergraph.protein.model_scores import score_model
from intergraph.protein.tasks.chain_quality.baselines import baseline_scores, baseline_table
from intergraph.protein.tasks.chain_quality.data import read_model_sets

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
sets, skipped = read_model_sets("psr_casp13")
rows = []
for t, s in sets.items():
    native = read_structure(s.native)
    for m in s.models:
        got = score_model(read_structure(m.path), native)
        keys = ("gdt_ts", "tm_score", "lddt")
        rows.append({"target": t, "model": m.name, **{f"{k}_ours": round(got[k], 4) for k in keys},
                     **{f"{k}_shipped": getattr(m, k) for k in keys}})
with open(out / "labels_check.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
for k in ("gdt_ts", "tm_score", "lddt"):
    diff = np.array([r[f"{k}_ours"] - r[f"{k}_shipped"] for r in rows])
    print(f"{k}: max |diff| {np.abs(diff).max():.4f}, mean {diff.mean():+.5f}, within 0.005: "
          f"{(np.abs(diff) <= 0.005).sum()}/{len(diff)}")
scores = {t: baseline_scores(s) for t, s in sets.items()}
with open(out / "baseline_scores.json", "w") as f:
    json.dump({t: {k: v.tolist() for k, v in d.items()} for t, d in scores.items()}, f)
print("\n".join(baseline_table(sets, scores)))
