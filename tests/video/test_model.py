import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from intergraph.errors import InputError
from intergraph.search.structure import Structure, derive
from intergraph.train.search import SearchConfig, SearchModule
from intergraph.video.experiment import train_run
from intergraph.video.model import InteractionModel, VideoModelConfig
from intergraph.video.task import ClassificationTask

from .helpers import random_features, tiny_run


def small_model(**kw) -> InteractionModel:
    cfg = VideoModelConfig(in_channels=16, width=16, frames=4, nodes_per_frame=3, background_per_frame=4,
                           classes=3, kernel=3, **kw)
    return InteractionModel(cfg)


@pytest.mark.parametrize("descriptor", ["background", "motion"])
def test_each_video_gets_its_own_structure_and_zero_is_never_chosen(descriptor):
    torch.manual_seed(0)
    model = small_model(descriptor=descriptor).eval()
    fs = random_features(8)
    g = fs.graph(torch.arange(8))
    uniform = model.derived_structures(g)
    assert all("zero" not in s.usage() for s in uniform)  # ties at zero init: zero is excluded anyway
    with torch.no_grad():
        model.predictor.linear.weight.normal_(0, 5.0)
        model.predictor.linear.bias[::model.predictor.shape[-1]] = 100.0  # zero would win every edge
    per_video = model.derived_structures(g)
    assert all("zero" not in s.usage() for s in per_video)
    assert len({json.dumps(s.cells) for s in per_video}) > 1
    out = model(g, derive_structure=True)
    assert set(out.weights.unique().tolist()) <= {0.0, 1.0} and (out.weights.sum(-1) == 1).all()
    assert [s.cells for s in per_video] == [s.cells for s in derive(out.weights, model.cfg.op_names, 3)]


def test_global_structure_is_shared_by_all_videos():
    model = small_model(structure="global").eval()
    with torch.no_grad():
        model.predictor.alpha.normal_()
    s = model.derived_structures(random_features(6).graph(torch.arange(6)))
    assert len({json.dumps(x.cells) for x in s}) == 1


def test_exported_structure_builds_a_fixed_network(tmp_path):
    torch.manual_seed(0)
    searched = small_model()
    with torch.no_grad():
        searched.predictor.linear.bias.normal_()
    s = searched.derived_structures(random_features(2).graph(torch.arange(2)))[0]
    s.save(tmp_path / "structure.json")
    fixed = small_model(structure="fixed", fixed=Structure.load(tmp_path / "structure.json").to_dict())
    assert fixed.structure_parameters() == [] and not fixed.searchable
    assert sum(p.numel() for p in fixed.parameters()) < sum(p.numel() for p in searched.parameters())
    out = fixed(random_features(4).graph(torch.arange(4)))
    assert out.logits.shape == (4, 3) and out.weights is None
    with pytest.raises(ValueError, match="3 steps"):
        small_model(structure="fixed", fixed=Structure.uniform("diff_prop", 2).to_dict())
    with pytest.raises(ValueError, match="unknown graph operation"):
        small_model(ops="zero,warp")


def test_gradients_reach_weights_and_structure():
    torch.manual_seed(0)
    model = small_model()
    fs = random_features(6)
    out = model(fs.graph(torch.arange(6)))
    (torch.nn.functional.cross_entropy(out.logits, fs.labels) + 0.1 * out.diversity).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert model.predictor.linear.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["alternate", "darts1", "darts2"])
def test_search_modes_learn_and_update_the_structure(tmp_path, mode):
    fs = random_features(120)
    split = {"train": list(range(96)), "val": list(range(96, 108)), "test": list(range(108, 120))}
    run = tiny_run(structure="adaptive" if mode == "alternate" else "global", mode=mode, epochs=12)
    model, result = train_run(run, fs, split, tmp_path / mode, 3, progress=False, log=lambda *_: None)
    assert result["test/top1"] >= 0.75, result  # the label is written in the features
    structure = model.structure_parameters()[0]
    assert structure.abs().sum() > 0, "structure parameters never moved"
    metrics = (tmp_path / mode / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 13 and "val/top1" in metrics[0]
    assert (tmp_path / mode / "config.yaml").exists() and (tmp_path / mode / "metrics.json").exists()


def test_runs_are_deterministic_and_resume_exactly(tmp_path):
    fs = random_features(40)
    split = {"train": list(range(24)), "val": list(range(24, 32)), "test": list(range(32, 40))}
    quiet = dict(progress=False, log=lambda *_: None)
    a, _ = train_run(tiny_run(epochs=4), fs, split, tmp_path / "a", 3, **quiet)
    b, _ = train_run(tiny_run(epochs=4), fs, split, tmp_path / "b", 3, **quiet)
    # interrupted after 2 of 4 epochs, then resumed
    stopped = tiny_run(epochs=4)
    stopped.train.stop_epoch = 2
    train_run(stopped, fs, split, tmp_path / "c", 3, **quiet)
    assert len((tmp_path / "c" / "metrics.csv").read_text().splitlines()) == 3
    (tmp_path / "c" / "metrics.json").unlink()
    (tmp_path / "c" / "checkpoints" / "best.ckpt").unlink()
    c, _ = train_run(tiny_run(epochs=4), fs, split, tmp_path / "c", 3, **quiet)
    last = {k: torch.load(tmp_path / n / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
            for k, n in (("a", "a"), ("b", "b"), ("c", "c"))}
    for key in last["a"]:
        torch.testing.assert_close(last["a"][key], last["b"][key], rtol=0, atol=0)
        torch.testing.assert_close(last["a"][key], last["c"][key], rtol=0, atol=0)


def test_fixed_mode_needs_no_structure_and_search_needs_one():
    model = small_model(structure="fixed", fixed=Structure.uniform("feat_aggr", 3).to_dict())
    SearchModule(model, ClassificationTask(), tiny_run().train, SearchConfig(mode="fixed"))
    with pytest.raises(ValueError, match="needs a searchable model"):
        SearchModule(model, ClassificationTask(), tiny_run().train, SearchConfig(mode="alternate"))
    with pytest.raises(ValueError, match="search mode"):
        SearchConfig(mode="evolution")


@pytest.mark.parametrize("mode,schedule", [("alternate", "cosine"), ("darts1", "cosine"), ("alternate", "plateau")])
def test_ddp_ranks_derive_identical_structures(tmp_path, mode, schedule):
    """Ranks validate different shards; the plateau schedule steps on the mean over ranks, so every rank keeps
    the same learning rate and weights."""
    script = Path(__file__).with_name("ddp_search.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path), mode, schedule], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    s0 = json.loads((tmp_path / "structures_rank0.json").read_text())
    s1 = json.loads((tmp_path / "structures_rank1.json").read_text())
    assert s0 == s1
    a = torch.load(tmp_path / "weights_rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "weights_rank1.pt", weights_only=True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    structure = [k for k in a if "predictor" in k]
    assert structure and any(a[k].abs().sum() > 0 for k in structure), "the structure was never updated"
    assert json.loads((tmp_path / "lr_rank0.json").read_text()) == json.loads((tmp_path / "lr_rank1.json").read_text())


def test_stacked_cells_derive_one_structure_per_cell():
    model = small_model(cells=2).eval()
    with torch.no_grad():
        model.predictor.linear.bias.normal_()
    s = model.derived_structures(random_features(2).graph(torch.arange(2)))[0]
    assert len(s.cells) == 2 and all(len(c) == 6 for c in s.cells)
    fixed = small_model(cells=2, structure="fixed", fixed=s.to_dict())
    assert fixed(random_features(3).graph(torch.arange(3))).logits.shape == (3, 3)


def test_warmup_epochs_leave_the_structure_untouched(tmp_path):
    fs = random_features(40)
    split = {"train": list(range(24)), "val": list(range(24, 32)), "test": list(range(32, 40))}
    run = tiny_run(epochs=2)
    run.search.warmup_epochs = 2
    model, _ = train_run(run, fs, split, tmp_path / "w", 3, progress=False, log=lambda *_: None)
    assert all((p == 0).all() for p in model.structure_parameters())
    assert model.classifier.weight.abs().sum() > 0


def test_derived_training_keeps_the_structure_predictor_and_trains_the_rest(tmp_path):
    fs = random_features(40)
    split = {"train": list(range(24)), "val": list(range(24, 32)), "test": list(range(32, 40))}
    searched, _ = train_run(tiny_run(epochs=3), fs, split, tmp_path / "s", 3, progress=False, log=lambda *_: None)
    tuned = tiny_run(epochs=2)
    tuned.search.mode = "derived"
    model, _ = train_run(tuned, fs, split, tmp_path / "d", 3, progress=False, log=lambda *_: None,
                         init=searched.state_dict())
    before, after = searched.state_dict(), model.state_dict()
    for k in before:
        if k.startswith("predictor."):
            assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])


@pytest.mark.parametrize("interleave,weight_steps,structure_steps", [("both", 6, 6), ("split", 4, 2)])
def test_alternating_search_counts_its_updates(tmp_path, interleave, weight_steps, structure_steps):
    """3 batches x 2 epochs: "both" updates the weights on every batch (as many updates as a fixed structure)
    and the structure after them; "split" (the official code) gives each half of the batches."""
    fs = random_features(40)
    split = {"train": list(range(24)), "val": list(range(24, 32)), "test": list(range(32, 40))}
    run = tiny_run(epochs=2)
    run.search.interleave = interleave
    train_run(run, fs, split, tmp_path / interleave, 3, progress=False, log=lambda *_: None)
    ckpt = torch.load(tmp_path / interleave / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    opt_w, opt_s = ckpt["optimizer_states"]
    assert int(opt_w["state"][0]["step"]) == weight_steps and int(opt_s["state"][0]["step"]) == structure_steps


def test_the_mean_head_is_blind_to_time_reversal_and_the_temporal_head_is_not():
    """With time-symmetric operations (difference propagation) and the paper's mean head, a clip and its time
    reversal get the same logits; the temporal head [h, h₂ − h₁] tells them apart, and its second half changes
    sign under reversal (checked on the pooled features)."""
    torch.manual_seed(0)
    fixed = Structure.uniform("diff_prop", 3).to_dict()
    g = random_features(4).graph(torch.arange(4))
    rev = copy.copy(g)
    rev.objects, rev.background, rev.mask = g.objects.flip(1), g.background.flip(1), g.mask.flip(1)
    rev.layout = g.layout.flip(1)
    mean_head = small_model(structure="fixed", fixed=fixed).eval()
    assert torch.allclose(mean_head(g).logits, mean_head(rev).logits, atol=1e-5)
    temporal = small_model(structure="fixed", fixed=fixed, head="temporal").eval()
    assert temporal.classifier.in_features == 2 * 3 * 16
    assert not torch.allclose(temporal(g).logits, temporal(rev).logits, atol=1e-3)
    nodes = torch.randn(2, 4, 3, 5)
    mask = torch.ones(2, 4, 3, dtype=torch.bool)
    a, b = temporal._pool(nodes, mask), temporal._pool(nodes.flip(1), mask)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6) and torch.allclose(a[:, 5:], -b[:, 5:], atol=1e-6)
    assert torch.allclose(a[:, 5:], nodes[:, 2:].mean(dim=(1, 2)) - nodes[:, :2].mean(dim=(1, 2)), atol=1e-6)
    with pytest.raises(InputError, match="head"):
        small_model(head="max")


def test_plateau_schedule_follows_validation_and_resumes_exactly(tmp_path):
    """The paper's schedule: the weights' learning rate times plateau_factor whenever the monitored validation
    metric stops improving (replayed here on the logged metric with torch's own scheduler); the scheduler's state
    is checkpointed, so an interrupted run resumes to the same weights."""
    fs = random_features(40)
    split = {"train": list(range(24)), "val": list(range(24, 32)), "test": list(range(32, 40))}
    quiet = dict(progress=False, log=lambda *_: None)

    def run_of(stop=0):
        run = tiny_run(structure="fixed", mode="fixed", epochs=5)
        run.model.fixed = Structure.uniform("feat_aggr", 3).to_dict()
        run.search.schedule, run.train.plateau_patience, run.train.plateau_factor = "plateau", 0, 0.5
        run.train.stop_epoch = stop  # monitors val/top1 (max), which saturates on 8 videos
        return run

    train_run(run_of(), fs, split, tmp_path / "a", 3, **quiet)
    rows = list(csv.DictReader(open(tmp_path / "a" / "metrics.csv")))
    replay = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-2)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(replay, mode="max", factor=0.5, patience=0)
    for r in rows:
        sched.step(float(r["val/top1"]))
    ckpt = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=False)
    lr = ckpt["optimizer_states"][0]["param_groups"][0]["lr"]
    assert lr == pytest.approx(replay.param_groups[0]["lr"]) and lr < 1e-2  # it did decay
    assert float(rows[0]["lr"]) == pytest.approx(1e-2)  # no cosine decay underneath
    train_run(run_of(stop=2), fs, split, tmp_path / "b", 3, **quiet)
    (tmp_path / "b" / "metrics.json").unlink()
    (tmp_path / "b" / "checkpoints" / "best.ckpt").unlink()
    train_run(run_of(), fs, split, tmp_path / "b", 3, **quiet)
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=False)
    for key, value in ckpt["state_dict"].items():
        torch.testing.assert_close(value, b["state_dict"][key], rtol=0, atol=0)
    with pytest.raises(InputError, match="schedule"):
        SearchConfig(schedule="step")


def test_recipes_are_named_settings_that_explicit_options_override(tmp_path):
    """``paper``: the official space and schedule (SGD with plateau decay, structure Adam 1e-4, no warm-up, valid
    temporal convolution); ``ours`` is the defaults; a given setting replaces the recipe's, None keeps it. A
    paper-recipe search trains (composite operations, a checkpointed plateau scheduler, one SGD step per batch)."""
    from intergraph.video.experiment import VideoSearchRun, recipe

    model, search = recipe("paper")
    assert model == {"ops": "paper", "temporal_padding": "valid"}
    assert (search["weight_optimizer"], search["weight_lr"], search["structure_lr"], search["warmup_epochs"],
            search["schedule"]) == ("sgd", 0.01, 1e-4, 0, "plateau")
    ours_model, ours_search = recipe("ours")  # the settings every earlier run folder holds (they stay reusable)
    assert SearchConfig(**ours_search) == SearchConfig(weight_optimizer="adam", weight_lr=3e-3, structure_lr=3e-3,
                                                       warmup_epochs=4) == VideoSearchRun().search
    assert VideoModelConfig(**ours_model) == VideoModelConfig()
    assert recipe("paper", {"ops": None}, {"weight_lr": 0.1})[1]["weight_lr"] == 0.1
    with pytest.raises(InputError, match="unknown recipe"):
        recipe("fast")
    run = tiny_run(epochs=1)
    model, search = recipe("paper")
    run.model.ops, run.model.temporal_padding = model["ops"], model["temporal_padding"]
    run.search = SearchConfig(**search)
    fs = random_features(40)
    split = {"train": list(range(24)), "val": list(range(24, 32)), "test": list(range(32, 40))}
    trained, _ = train_run(run, fs, split, tmp_path / "paper", 3, progress=False, log=lambda *_: None)
    assert trained.cfg.op_names == ["zero", "identity", "comb_diff", "comb_temp", "comb_back"]
    ckpt = torch.load(tmp_path / "paper" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert "momentum_buffer" in ckpt["optimizer_states"][0]["state"][0] and len(ckpt["lr_schedulers"]) == 1
    assert int(ckpt["optimizer_states"][1]["state"][0]["step"]) == 3  # a structure step on every batch, no warm-up


def test_plateau_schedule_refuses_a_metric_validation_does_not_aggregate(tmp_path):
    run = tiny_run(structure="fixed", mode="fixed", epochs=1)
    run.model.fixed = Structure.uniform("feat_aggr", 3).to_dict()
    run.search.schedule, run.train.monitor, run.train.mode = "plateau", "val/loss", "min"
    fs = random_features(24)
    split = {"train": list(range(16)), "val": list(range(16, 20)), "test": list(range(20, 24))}
    with pytest.raises(InputError, match="val/loss"):
        train_run(run, fs, split, tmp_path / "r", 3, progress=False, log=lambda *_: None)
