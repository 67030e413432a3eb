"""Exploratory: the adaptive arm of the arms run (runs/fam3, ../command.txt) trained on straight-through Gumbel
samples at temperature TAU (one operation per edge in training, as at test: `video search --gumbel`), everything
else as the arm's config. Writes gumbel_sSEED.csv here (each test video's argmax- and softmax-protocol
prediction). Usage, from the repository root: python .../explore/gumbel.py SEED TAU (gumbel.sh: seeds 0-4, τ 1)."""
import copy
import csv
import sys
from pathlib import Path

from intergraph.train.config import load_yaml
from intergraph.video.arms import predict
from intergraph.video.experiment import VideoSearchRun, splits, train_run
from intergraph.video.features import FeatureSet

seed, tau = int(sys.argv[1]), float(sys.argv[2])
fs = FeatureSet.load("runs/fam3/features.pt")
split = splits(len(fs))
run = copy.deepcopy(load_yaml(VideoSearchRun, Path(f"runs/fam3/seed{seed}/adaptive/config.yaml")))
run.model.gumbel = tau
model, _ = train_run(run, fs, split, Path(f"runs/explore/gumbel_s{seed}_t{tau:g}"), len(fs.meta["classes"]),
                     progress=False, log=lambda *a: None)
test = fs.subset(split["test"])
y, g = test.labels.numpy(), test.groups().numpy()
pred = {protocol: predict(model, test, protocol) for protocol in ("argmax", "softmax")}
for protocol, p in pred.items():
    print(seed, tau, protocol, f"{(p == y).mean():.3f}", {n: round(float((p[g == k] == y[g == k]).mean()), 3)
                                                         for k, n in enumerate(test.group_names)}, flush=True)
with open(Path(__file__).parent / f"gumbel_s{seed}.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["video", "label", "group", "argmax", "softmax"])
    w.writerows([v, int(y[i]), test.group_names[g[i]], int(pred["argmax"][i]), int(pred["softmax"][i])]
                for i, v in enumerate(test.ids))
