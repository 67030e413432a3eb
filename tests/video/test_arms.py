"""Oracle routing, the uniform mixture, shortcut switches, evaluation protocols and the arms' statistics."""
import copy
import json

import numpy as np
import pytest
import torch

from intergraph.errors import InputError
from intergraph.search.structure import Structure
from intergraph.video.arms import ARMS, mixed_edges, nmi, paired, predict, run_arms, training_runs
from intergraph.video.features import FeatureSet
from intergraph.video.model import InteractionModel, VideoModelConfig

from .helpers import random_features, tiny_run


def grouped(n=12, seed=0) -> FeatureSet:
    """Random features whose classes fall in two groups: classes 0, 1 -> group a, class 2 -> group b."""
    fs = random_features(n, seed=seed)
    fs.meta["class_groups"] = ["a", "a", "b"]
    return fs


def model_of(**kw) -> InteractionModel:
    torch.manual_seed(0)
    return InteractionModel(VideoModelConfig(in_channels=16, width=16, frames=4, nodes_per_frame=3,
                                             background_per_frame=4, classes=3, kernel=3, **kw)).eval()


def test_groups_come_from_the_class_of_each_video():
    fs = grouped()
    assert fs.group_names == ["a", "b"]
    assert fs.groups().tolist() == [0 if y < 2 else 1 for y in fs.labels.tolist()]
    assert fs.graph(torch.arange(3)).group.tolist() == fs.groups()[:3].tolist()
    assert random_features(6).groups() is None


def test_oracle_routing_uses_only_the_operations_of_each_group():
    routes = [Structure.uniform("diff_prop", 3).to_dict(), Structure.uniform("node_att", 3).to_dict()]
    model = model_of(structure="routed", routes=routes)
    assert model.structure_parameters() == [] and model.cfg.op_names == ["zero", "diff_prop", "node_att"]
    fs = grouped()
    g = fs.graph(torch.arange(len(fs)))
    before = model(g).logits
    with torch.no_grad():  # change every node-attention parameter: only group b's videos may notice
        for name, p in model.named_parameters():
            if "node_att" in name:
                p.add_(torch.randn_like(p))
    after = model(g).logits
    in_a = g.group == 0
    assert torch.allclose(before[in_a], after[in_a]) and not torch.allclose(before[~in_a], after[~in_a])
    assert [s.cells[0][0] for s in model.derived_structures(g)] == [["diff_prop", "node_att"][k] for k in g.group]
    with pytest.raises(InputError, match="group"):
        model(random_features(4).graph(torch.arange(4)))
    with pytest.raises(InputError, match="routes"):
        model_of(structure="routed")


def test_a_mixture_route_sends_its_group_through_every_candidate():
    """A route may be the uniform mixture: that group's videos use every candidate but zero (as the mixture arm
    does), the other group only its own structure's operations."""
    routes = [Structure.uniform("diff_prop", 3).to_dict(), "mixture"]
    model = model_of(structure="routed", routes=routes, ops="zero,identity,diff_prop,node_att")
    assert model.cfg.op_names == ["zero", "diff_prop", "identity", "node_att"]
    g = grouped().graph(torch.arange(12))
    w = model.structure_of(g)
    in_a = g.group == 0
    assert torch.all(w[in_a][..., 1] == 1) and torch.all(w[in_a].sum(-1) == 1)
    assert torch.allclose(w[~in_a][..., 1:], torch.tensor(1 / 3)) and torch.all(w[~in_a][..., 0] == 0)
    before = model(g).logits
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "node_att" in name or "identity" in name:
                p.add_(torch.randn_like(p))
    after = model(g).logits
    assert torch.allclose(before[in_a], after[in_a]) and not torch.allclose(before[~in_a], after[~in_a])
    with pytest.raises(InputError, match="mixture"):
        model.derived_structures(g)
    assert model.derived_structures(grouped().graph(torch.tensor([0, 1]))) == [Structure.uniform("diff_prop", 3)] * 2


def test_a_routed_run_config_round_trips_with_a_mixture_route(tmp_path):
    """The run folder of a routed run with a mixture route is reused only for that same config."""
    from intergraph.train.config import claim_run_dir

    run = tiny_run(structure="routed", mode="fixed")
    run.model.routes = [Structure.uniform("diff_prop", 3).to_dict(), "mixture"]
    claim_run_dir(run, tmp_path / "r")
    claim_run_dir(run, tmp_path / "r")  # the same config: accepted (a resume)
    other = tiny_run(structure="routed", mode="fixed")
    other.model.routes = [Structure.uniform("diff_prop", 3).to_dict(), Structure.uniform("node_att", 3).to_dict()]
    with pytest.raises(InputError, match="another config"):
        claim_run_dir(other, tmp_path / "r")


def test_gumbel_training_samples_one_operation_per_edge_and_tests_as_before():
    model = model_of(structure="adaptive", gumbel=1.0).train()
    g = random_features(6).graph(torch.arange(6))
    w = model(g).weights
    assert torch.all(w.sum(-1) == 1) and torch.all((w == 0) | (w == 1)) and torch.all(w[..., 0] == 0)
    model(g).logits.sum().backward()  # the structure predictor learns through the straight-through sample
    assert model.predictor.linear.weight.grad.abs().sum() > 0
    w = model.eval()(g).weights  # at test: softmax (argmax with derive_structure), never a sample
    assert torch.allclose(w, torch.full_like(w, 1 / w.shape[-1]))
    later = model_of(structure="adaptive", gumbel=1.0, gumbel_from=2).train()  # mixtures first (the warm-up)
    later.set_epoch(1)
    assert torch.allclose(later(g).weights, w)
    later.set_epoch(2)
    assert torch.all(later(g).weights.sum(-1) == 1) and torch.all(later(g).weights.amax(-1) == 1)


def test_routed_shared_epochs_send_every_video_through_every_route_operation(tmp_path, monkeypatch):
    """During its shared epochs a routed model trains on the uniform mixture of the routes' operations (so group
    a's videos update node attention too); evaluation, and training afterwards, follow the routes. The training
    loop tells the model each epoch."""
    routes = [Structure.uniform("diff_prop", 3).to_dict(), Structure.uniform("node_att", 3).to_dict()]
    model = model_of(structure="routed", routes=routes, shared_epochs=1).train()
    g = grouped().graph(torch.arange(12))
    w = model.structure_of(g)
    assert w.shape == (12, 1, 6, 3) and torch.all(w[..., 0] == 0) and torch.allclose(w[..., 1:], torch.tensor(0.5))
    in_a = g.group == 0
    model(g).logits[in_a].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.named_parameters()
               if "node_att" in n and "cells" in n)
    assert torch.equal(model.eval().structure_of(g), model.table[g.group])
    model.train().set_epoch(1)
    assert torch.equal(model.structure_of(g), model.table[g.group])
    with pytest.raises(InputError, match="routed"):
        model_of(structure="mixture", shared_epochs=2)

    from intergraph.video.experiment import train_run

    seen = []
    monkeypatch.setattr(InteractionModel, "set_epoch", lambda self, e: seen.append(e))
    run = tiny_run(epochs=2)
    run.model.structure, run.search.mode, run.model.routes, run.model.shared_epochs = "routed", "fixed", routes, 1
    fs = grouped(24)
    train_run(run, fs, {"train": list(range(16)), "val": list(range(16, 20)), "test": list(range(20, 24))},
              tmp_path / "routed", 3, progress=False, log=lambda *a: None)
    assert seen == [0, 1]


def test_uniform_mixture_weighs_every_operation_but_zero_equally():
    model = model_of(structure="mixture")
    w = model.structure_of(random_features(4).graph(torch.arange(4)))
    assert w.shape == (4, 1, 6, 7) and torch.all(w[..., 0] == 0) and torch.allclose(w[..., 1:], torch.tensor(1 / 6))
    assert model.structure_parameters() == [] and not model.searchable
    with pytest.raises(InputError, match="mixture"):
        model.derived_structures(random_features(2).graph(torch.arange(2)))


def test_shortcuts_are_off_by_default():
    """No layout embedding: without node attention the output ignores the boxes' layout; the head reads the
    pooled object nodes only, so the background changes the output only through the operations."""
    model = model_of(structure="fixed", fixed=Structure.uniform("diff_prop", 3).to_dict())
    assert model.layout is None and model.classifier.in_features == 3 * 16
    fs = random_features(4)
    g = fs.graph(torch.arange(4))
    moved = copy.copy(g)
    moved.layout = torch.rand_like(g.layout)
    moved.background = torch.randn_like(g.background)
    assert torch.allclose(model(g).logits, model(moved).logits)
    with_cues = model_of(structure="fixed", fixed=Structure.uniform("diff_prop", 3).to_dict(),
                         layout_embedding=True, head_descriptor=True)
    assert with_cues.classifier.in_features == 4 * 16
    assert not torch.allclose(with_cues(g).logits, with_cues(moved).logits)


def test_protocols_of_a_searched_model():
    fs = grouped(16)
    model = model_of()  # zero-initialised predictor: every video derives the same structure
    argmax = predict(model, fs, "argmax")
    assert np.array_equal(predict(model, fs, "shuffled", seed=3), argmax)
    with torch.no_grad():
        model.predictor.linear.weight.normal_(0, 5.0)
    assert predict(model, fs, "softmax").shape == (16,)
    with pytest.raises(InputError, match="protocol"):
        predict(model, fs, "vote")
    with pytest.raises(InputError, match="shuffled"):
        predict(model_of(structure="mixture"), fs, "shuffled")


def test_nmi_and_paired_differences_by_hand():
    s = [Structure.uniform(op, 3) for op in ("diff_prop", "diff_prop", "node_att", "node_att")]
    assert nmi(s, np.array([0, 0, 1, 1])) == pytest.approx(1.0)
    assert nmi([s[0]] * 4, np.array([0, 0, 1, 1])) == pytest.approx(0.0)
    correct = {"a": [np.array([1, 1, 1, 0], bool), np.array([1, 1, 0, 0], bool)],
               "b": [np.array([1, 0, 0, 0], bool), np.array([1, 0, 0, 0], bool)]}
    mean, lo, hi = paired(correct, "a", "b")
    assert mean == pytest.approx((2 / 4 + 1 / 4) / 2) and lo <= mean <= hi and lo >= 0.0
    edges = mixed_edges(["zero", "identity", "diff_prop"], 3, 1)
    assert edges.cells == [["identity", "diff_prop"] * 3]


def test_every_arm_is_trained_on_the_same_features(tmp_path):
    base = tiny_run(epochs=1)
    base.model.ops = "zero,identity,diff_prop"
    base.search.warmup_epochs = 1
    runs = training_runs(base, [Structure.uniform("diff_prop", 3), Structure.uniform("identity", 3)])
    assert set(runs) == {"fixed:identity", "fixed:diff_prop", "mixed edges", "uniform mixture", "oracle routing",
                         "darts", "adaptive"}
    assert runs["adaptive"].search.mode == "alternate" and runs["oracle routing"].model.structure == "routed"
    assert runs["oracle routing"].model.shared_epochs == base.search.warmup_epochs


def test_arms_end_to_end_on_a_tiny_families_set(tmp_path):
    from intergraph.video.experiment import VideoDataConfig
    from intergraph.video.nodes import NodeConfig
    from intergraph.video.synthetic import SyntheticConfig

    base = tiny_run(epochs=1)
    base.model.ops = "zero,identity,diff_prop,back_incor,node_att"
    base.search.warmup_epochs = 1  # the oracles' shared warm-up: the validation oracle tries 0 and 1 epochs
    base.data = VideoDataConfig(videos=36, synthetic=SyntheticConfig(benchmark="families", frames=8, size=96),
                                nodes=NodeConfig(nodes_per_frame=4))
    summary = run_arms(base, tmp_path / "arms", seeds=[0], progress=False, log=lambda *a: None)
    assert set(summary["top1"]) == set(ARMS) and summary["groups"] == ["motion", "place", "crowd"]
    assert (tmp_path / "arms" / "summary.md").read_text().count("| oracle routing |") == 1
    seed = json.loads((tmp_path / "arms" / "seed0" / "seed.json").read_text())
    assert set(summary["single_ops"]) == {"identity", "diff_prop", "back_incor", "node_att"}
    assert summary["single_ops"]["node_att"] == seed["top1_by_group"]["fixed:node_att"]  # one seed: its values
    picked = seed["chosen"]["oracle routing, chosen on validation"]
    assert len(picked) == 3 and set(picked) <= {"hand-chosen", "uniform mixture", "fixed:identity",
                                                "fixed:diff_prop", "fixed:back_incor", "fixed:node_att"}
    from intergraph.train.config import load_yaml
    from intergraph.video.experiment import VideoSearchRun
    from intergraph.video.families import FAMILIES

    shared = seed["chosen"]["validation oracle's shared epochs"]
    assert shared in (0, 1) and (tmp_path / "arms" / "seed0" / "oracle_routing_validation_shared1").exists()
    held = load_yaml(VideoSearchRun, tmp_path / "arms" / "seed0" / f"oracle_routing_validation_shared{shared}"
                     / "config.yaml")
    assert held.model.shared_epochs == shared
    assert held.model.routes == ["mixture" if n == "uniform mixture" else
                                 (Structure(3, [list(f.oracle)]) if n == "hand-chosen"
                                  else Structure.uniform(n.split(":")[1], 3)).to_dict()
                                 for f, n in zip(FAMILIES, picked)]
    # the per-group expert reads each group with the network it picked for it (never an adaptive one)
    experts = seed["chosen"]["per-group expert, chosen on validation"]
    assert len(experts) == 3 and not any(e.startswith(("adaptive", "shuffled")) for e in experts)
    import csv

    rows = list(csv.DictReader(open(tmp_path / "arms" / "seed0" / "predictions.csv")))
    for f, e in zip(FAMILIES, experts):
        mine = [r for r in rows if r["group"] == f.name]
        assert mine and all(r["per-group expert, chosen on validation"] == r[e] for r in mine)
    # paired differences within each group: with one seed, the mean is the difference of the group's top-1
    for f in FAMILIES:
        m, lo, hi = summary["paired_by_group"][f.name]["adaptive, argmax at test - uniform mixture"]
        by = seed["top1_by_group"]
        assert m == pytest.approx(by["adaptive, argmax at test"][f.name] - by["uniform mixture"][f.name])
        assert lo <= m <= hi
    assert "Within each group" in (tmp_path / "arms" / "summary.md").read_text()
    assert "| back_incor | " in (tmp_path / "arms" / "summary.md").read_text()
    assert (tmp_path / "arms" / "seed0" / "adaptive" / "by_group" / "usage.png").exists()
    rows = (tmp_path / "arms" / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + len(ARMS) + 4  # + each single-operation run beside the best one


def test_the_written_command_rebuilds_the_same_configuration(tmp_path, monkeypatch):
    """`video arms` writes command.txt with every setting spelled out (the recipe's included); running that
    command builds the same base configuration, so a results folder says exactly what made it."""
    import shlex

    from typer.testing import CliRunner

    from intergraph.cli import app
    from intergraph.video import arms

    seen = []

    def fake(base, out, seeds, **_):
        seen.append((base, seeds))
        (out / "summary.md").write_text("table\n")

    monkeypatch.setattr(arms, "run_arms", fake)
    runner = CliRunner()
    first = runner.invoke(app, ["video", "arms", "--out", str(tmp_path / "a"), "--videos", "90", "--seeds", "0,2",
                                "--recipe", "paper", "--lr", "0.05", "--head", "temporal", "--layout-embedding"])
    assert first.exit_code == 0, first.output
    command = (tmp_path / "a" / "command.txt").read_text()
    assert "--recipe paper --ops paper --lr 0.05 --structure-lr 0.0001 --warmup 0" in command
    again = runner.invoke(app, shlex.split(command)[1:])
    assert again.exit_code == 0, again.output
    (a, seeds_a), (b, seeds_b) = seen
    assert a == b and seeds_a == seeds_b == [0, 2]
    assert (a.search.weight_optimizer, a.search.schedule, a.model.temporal_padding) == ("sgd", "plateau", "valid")
    assert a.model.head == "temporal" and a.model.layout_embedding and a.search.weight_lr == 0.05
