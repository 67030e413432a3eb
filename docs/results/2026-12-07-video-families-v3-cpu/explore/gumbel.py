"""Exploratory: the adaptive arm of the arms run (runs/fam3, ../command.txt) trained on straight-through Gumbel
samples at temperature TAU (one operation per edge in training, as at test: `video search --gumbel`), everything
else as the arm's config; from epoch FROM on (mixtures before it). Writes the run's name .csv here (each test
video's argmax- and softmax-protocol prediction). Usage, from the repository root: python .../explore/gumbel.py
SEED TAU [FROM] (gumbel.sh: seeds 0-4, τ 1, from epoch 0 and from epoch 2, the end of the warm-up)."""
import copy
import csv
import sys
from pathlib import Path

from intergraph.train.config import load_yaml
from intergraph.video.arms import predict
from intergraph.video.experiment import VideoSearchRun, splits, train_run
from intergraph.video.features import FeatureSet

seed, tau = int(sys.argv[1]), float(sys.argv[2])
start = int(sys.argv[3]) if len(sys.argv) > 3 else 0  # the first epoch of Gumbel samples (mixtures before)
name = f"gumbel_s{seed}_t{tau:g}" + (f"_from{start}" if start else "")
fs = FeatureSet.load("runs/fam3/features.pt")
split = splits(len(fs))
run = copy.deepcopy(load_yaml(VideoSearchRun, Path(f"runs/fam3/seed{seed}/adaptive/config.yaml")))
run.model.gumbel, run.model.gumbel_from = tau, start
model, _ = train_run(run, fs, split, Path(f"runs/explore/{name}"), len(fs.meta["classes"]),
                     progress=False, log=lambda *a: None)
test = fs.subset(split["test"])
y, g = test.labels.numpy(), test.groups().numpy()
pred = {protocol: predict(model, test, protocol) for protocol in ("argmax", "softmax")}
for protocol, p in pred.items():
    print(seed, tau, start, protocol, f"{(p == y).mean():.3f}", {n: round(float((p[g == k] == y[g == k]).mean()), 3)
                                                         for k, n in enumerate(test.group_names)}, flush=True)
with open(Path(__file__).parent / f"{name}.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["video", "label", "group", "argmax", "softmax"])
    w.writerows([v, int(y[i]), test.group_names[g[i]], int(pred["argmax"][i]), int(pred["softmax"][i])]
                for i, v in enumerate(test.ids))
