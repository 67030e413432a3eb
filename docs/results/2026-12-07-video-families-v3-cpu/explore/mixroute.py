"""Exploratory: oracle routing with the hand-chosen motion route and the uniform mixture for place and crowd,
with SHARED epochs of warm-up (0 or 2). Reads the features and the hand oracle's config of the arms run in
runs/fam3 (the command in ../command.txt). Usage, from the repository root: python mixroute.py SEED SHARED
(mixroute.sh ran seeds 0 and 3 with 0 and 2; seeds 1, 2, 4 then ran with 0)."""
import copy
import sys
from pathlib import Path

from intergraph.train.config import load_yaml
from intergraph.video.arms import predict
from intergraph.video.experiment import VideoSearchRun, splits, train_run
from intergraph.video.features import FeatureSet

seed, shared = int(sys.argv[1]), int(sys.argv[2])
fs = FeatureSet.load("runs/fam3/features.pt")
split = splits(len(fs))
base = load_yaml(VideoSearchRun, Path(f"runs/fam3/seed{seed}/oracle_routing/config.yaml"))
run = copy.deepcopy(base)
run.model.routes = [base.model.routes[0], "mixture", "mixture"]
run.model.shared_epochs = shared
model, _ = train_run(run, fs, split, Path(f"runs/explore/mixroute_s{seed}_sh{shared}"), len(fs.meta["classes"]),
                     progress=False, log=lambda *a: None)
test = fs.subset(split["test"])
p, y, g = predict(model, test), test.labels.numpy(), test.groups().numpy()
print(seed, shared, f"{(p == y).mean():.3f}", {n: round(float((p[g == k] == y[g == k]).mean()), 3)
                                              for k, n in enumerate(test.group_names)}, flush=True)
