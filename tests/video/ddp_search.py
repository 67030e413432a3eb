"""Run as a script by the DDP test: two CPU processes search on the same features; each rank writes its
weights, its learning rate and the structures it derives for every video."""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from intergraph.train.loop import fit  # noqa: E402
from intergraph.train.search import SearchModule  # noqa: E402
from intergraph.video.experiment import build_model, loader, train_loaders  # noqa: E402
from intergraph.video.task import ClassificationTask  # noqa: E402
from tests.video.helpers import random_features, tiny_run  # noqa: E402

if __name__ == "__main__":
    out, mode = Path(sys.argv[1]), sys.argv[2]
    fs = random_features(32)
    schedule = sys.argv[3] if len(sys.argv) > 3 else "cosine"
    run = tiny_run(mode=mode, epochs=6 if schedule == "plateau" else 2)
    run.search.schedule = schedule
    if schedule == "plateau":  # stepped on the validation metric, which each rank computes on its own shard
        run.train.plateau_patience, run.train.plateau_factor = 0, 0.5
        run.search.weight_lr = 1e-4  # slow learning: the ranks' local validation top-1 stay apart
    run.train.strategy, run.train.devices = "ddp", 2
    torch.manual_seed(0)
    model = build_model(run, fs, 3)
    module = SearchModule(model, ClassificationTask(), run.train, run.search)
    trainer = fit(module, train_loaders(run, fs), loader(fs, 16), out / "run", progress=False)
    rank = trainer.global_rank
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, out / f"weights_rank{rank}.pt")
    opts = module.optimizers()
    lr = (opts[0] if isinstance(opts, list) else opts).param_groups[0]["lr"]
    (out / f"lr_rank{rank}.json").write_text(json.dumps(lr))
    structures = [s.to_dict() for s in model.derived_structures(fs.graph(torch.arange(len(fs))))]
    (out / f"structures_rank{rank}.json").write_text(json.dumps(structures))
