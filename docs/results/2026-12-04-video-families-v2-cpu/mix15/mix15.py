"""The uniform mixture trained for 15 epochs (= adaptive's 10 search + 5 derived epochs of weight updates),
seeds 0-4, on runs/fam2's features and splits; paired against adaptive + derived of runs/fam2."""
import csv
import json
from pathlib import Path

import numpy as np
import torch

from intergraph.search.structure import Structure
from intergraph.video.arms import arms_run, paired, predict, training_runs
from intergraph.video.experiment import train_run
from intergraph.video.families import FAMILIES
from intergraph.video.features import FeatureSet
from intergraph.video.synthetic import splits

torch.set_num_threads(1)
out = Path("runs/fam2_mix15")
fs = FeatureSet.load("runs/fam2/features.pt")
split = splits(len(fs))
test = fs.subset(split["test"])
labels, groups = test.labels.numpy(), test.groups().numpy()
oracle = [Structure(3, [list(f.oracle)]) for f in FAMILIES]
correct = {"uniform mixture, 15 epochs": [], "adaptive + derived": [], "uniform mixture": []}
rows = []
for seed in range(5):
    base = arms_run(videos=1800, epochs=15, width=64, head="temporal", layout_embedding=True, ops="basic",
                    lr=0.003, structure_lr=0.003, warmup=2)
    base.train.seed = seed
    run = training_runs(base, oracle)["uniform mixture"]
    model, _ = train_run(run, fs, split, out / f"seed{seed}" / "uniform_mixture_15ep", 8, progress=False,
                         log=lambda *a: None)
    p = predict(model, test)
    correct["uniform mixture, 15 epochs"].append(p == labels)
    arms = list(csv.DictReader(open(f"runs/fam2/seed{seed}/predictions.csv")))
    for arm in ("adaptive + derived", "uniform mixture"):
        correct[arm].append(np.array([int(r[arm]) == int(r["label"]) for r in arms]))
    rows.append({"seed": seed, "top1": float((p == labels).mean()),
                 **{f"top1:{FAMILIES[k].name}": float((p[groups == k] == labels[groups == k]).mean())
                    for k in range(3)}})
    print(rows[-1], flush=True)
summary = {"rows": rows,
           "mean": float(np.mean([r["top1"] for r in rows])), "sd": float(np.std([r["top1"] for r in rows], ddof=1)),
           "by_family": {f.name: float(np.mean([r[f"top1:{f.name}"] for r in rows])) for f in FAMILIES},
           "adaptive + derived - uniform mixture, 15 epochs":
               paired(correct, "adaptive + derived", "uniform mixture, 15 epochs"),
           "uniform mixture, 15 epochs - uniform mixture":
               paired(correct, "uniform mixture, 15 epochs", "uniform mixture")}
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
