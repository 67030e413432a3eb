"""Exploratory (not in the tables): why background incorporation routed to `place` stays at chance.
`routed EPOCHS`: the hand-chosen oracle routing trained for EPOCHS (seed 0), top-1 per family.
`place_only EPOCHS`: background incorporation on every edge, trained and tested on the `place` videos only
(seeds 0 and 1). Run from the repository root after the arms (it reads runs/fam2/features.pt)."""
import copy
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from intergraph.search.structure import Structure
from intergraph.video.arms import arms_run, training_runs
from intergraph.video.experiment import train_run
from intergraph.video.families import FAMILIES
from intergraph.video.features import FeatureSet
from intergraph.video.synthetic import splits

torch.set_num_threads(1)
what, epochs = sys.argv[1], int(sys.argv[2])
fs = FeatureSet.load("runs/fam2/features.pt")
split = splits(len(fs))
base = arms_run(videos=1800, epochs=epochs, width=64, head="temporal", layout_embedding=True, ops="basic", lr=0.003,
                structure_lr=0.003, warmup=2)
out = Path("runs/fam2_explore")
if what == "routed":
    run = training_runs(base, [Structure(3, [list(f.oracle)]) for f in FAMILIES])["oracle routing"]
    train_run(run, fs, split, out / f"routed_e{epochs}", 8, progress=False, log=lambda *a: None)
    acc = {}
    for row in csv.DictReader(open(out / f"routed_e{epochs}" / "predictions.csv")):
        acc.setdefault(FAMILIES[[0, 0, 0, 0, 1, 1, 2, 2][int(row["label"])]].name, []).append(
            row["label"] == row["predicted"])
    print(what, epochs, {k: round(float(np.mean(v)), 3) for k, v in acc.items()})
else:
    group = fs.groups().numpy()
    place = {k: [i for i in v if group[i] == 1] for k, v in split.items()}
    for seed in (0, 1):
        run = copy.deepcopy(base)
        run.train.seed = seed
        run.model.structure, run.search.mode = "fixed", "fixed"
        run.model.fixed = Structure.uniform("back_incor", 3).to_dict()
        _, r = train_run(run, fs, place, out / f"place_only_e{epochs}_s{seed}", 8, progress=False, log=lambda *a: None)
        print(what, epochs, seed, round(r["test/top1"], 3))
