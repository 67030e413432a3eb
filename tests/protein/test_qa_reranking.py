"""QA re-ranking of the docking search: predicted quality of ligand poses (`pose_quality`), `protein dock --qa`
re-ranks the search's cluster heads, and the benchmark adds re-ranked copies of every ranking. The QA run here
trains with the ranking term (batches within targets) on interface graphs (`quality.interface`) whose edges carry
the atom-level channels (`quality.contacts`)."""
from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.errors import InputError
from intergraph.graph.rigid import random_rotation
from intergraph.protein.io import read_structure

runner = CliRunner()


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    from intergraph.protein.run import DataConfig, ModelConfig, train
    from intergraph.protein.tasks.quality.run import QualityConfig, QualityRun
    from intergraph.train.config import TrainConfig

    tmp = tmp_path_factory.mktemp("qa")
    cfg = QualityRun(data=DataConfig(train_ids=["7CEI", "2SNI"], val_ids=["1NW9"], test_ids=["1AVX"],
                                     cache_dir=str(tmp / "cache")),
                     model=ModelConfig(encoder="egnn", layers=1, out_dim=16),
                     quality=QualityConfig(decoys_per_target=3, surface_per_target=1, clash_per_target=0,
                                           test_decoys_per_target=2, baselines=False, external=False,
                                           rank_weight=1.0, interface=True, contacts=True),
                     train=TrainConfig(monitor="val/spearman", mode="max", max_epochs=1, batch_size=4, lr=1e-3,
                                       accelerator="cpu"))
    train(cfg, tmp / "run", progress=False, log=lambda m: None)
    return tmp / "run"


def test_pose_quality_moves_the_ligand_graph_as_the_structure(qa_run, db5_root):
    from intergraph.protein.run import load_models
    from intergraph.protein.tasks.quality.run import pose_quality

    folder = db5_root / "structures"
    rec, lig = (read_structure(folder / f"7CEI_{r}_b.pdb.gz") for r in "rl")
    models = load_models(qa_run)
    rot = random_rotation(torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    t = np.array([3.0, -4.0, 1.0])
    poses = [(np.eye(3), np.zeros(3)), (rot, t)]
    got = pose_quality(models, rec, lig, poses)
    assert got.shape == (2, 2) and ((got > 0) & (got < 1)).all()
    # the same pose given as a moved structure at the identity
    again = pose_quality(models, rec, lig.moved(rot, t), [(np.eye(3), np.zeros(3))])
    np.testing.assert_allclose(again[0], got[1], atol=1e-4)
    other = [dataclasses.replace(models[0], cfg=dataclasses.replace(models[0].cfg, task="interface"))]
    with pytest.raises(InputError, match="quality-assessment run"):
        pose_quality(other, rec, lig, poses)


def test_dock_with_qa_reranks_the_cluster_heads(qa_run, db5_root, tmp_path):
    inputs = db5_root / "docking_test" / "random_transformed"
    rec_f, lig_f = inputs / "7CEI_r_b.pdb.gz", inputs / "7CEI_l_b.pdb.gz"
    args = ["protein", "dock", "--receptor", str(rec_f), "--ligand", str(lig_f), "--step", "60", "--top", "4"]
    plain = runner.invoke(app, args + ["--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    res = runner.invoke(app, args + ["--out", str(tmp_path / "qa"), "--qa", str(qa_run)])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "qa" / "poses.csv") as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / "plain" / "poses.csv") as f:
        before = list(csv.DictReader(f))
    predicted = [float(r["predicted_dockq"]) for r in rows]
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4] and predicted == sorted(predicted, reverse=True)
    # the same heads, re-ordered
    assert sorted(r["translation"] for r in rows) == sorted(r["translation"] for r in before)
    assert json.loads((tmp_path / "qa" / "search.json").read_text())["qa"] == str(qa_run)
    bad = runner.invoke(app, args + ["--out", str(tmp_path / "x"), "--method", "regress", "--qa", str(qa_run)])
    assert bad.exit_code == 2 and "--method search" in bad.output


def test_benchmark_adds_qa_reranked_copies_of_every_ranking(qa_run, tmp_path):
    out = tmp_path / "bench"
    res = runner.invoke(app, ["protein", "dock-benchmark", "--out", str(out), "--arms", "shape", "--ids", "7CEI",
                              "--step", "60", "--top", "3", "--qa", str(qa_run)])
    assert res.exit_code == 0, res.output
    with open(out / "rows.csv") as f:
        rows = list(csv.DictReader(f))
    arms = {r["arm"] for r in rows}
    assert {"shape", "shape, by size", "shape + QA", "shape, by size + QA"} <= arms
    for name in ("shape", "shape, by size"):
        mine = sorted(float(r["dockq"]) for r in rows if r["arm"] == name)
        assert mine == pytest.approx(sorted(float(r["dockq"]) for r in rows if r["arm"] == f"{name} + QA"))
    assert json.loads((out / "config.json").read_text())["qa"]["task"] == "qa"
    # each re-ranked ranking is paired with the ranking it re-ranks, the other arms with the first
    pairs = {(p["arm"], p["base"]) for p in json.loads((out / "summary.json").read_text())["paired"]}
    assert ("shape + QA", "shape") in pairs and ("shape, by size + QA", "shape, by size") in pairs
    first = rows[0]["arm"]
    assert all(arm.removesuffix(" + QA") == base or (base == first and "QA" not in arm) for arm, base in pairs)


def test_a_run_of_another_task_is_refused_as_qa(tmp_path, monkeypatch):
    import intergraph.protein.run as run

    fake = [run.Trained(cfg=run.ProteinRun(task="interface"), model=None, folder=tmp_path)]
    monkeypatch.setattr(run, "load_models", lambda folder: fake)
    res = runner.invoke(app, ["protein", "dock-benchmark", "--out", str(tmp_path / "b"), "--arms", "shape",
                              "--ids", "7CEI", "--qa", str(tmp_path)])
    assert res.exit_code == 2 and "needs a quality-assessment run" in res.output


def test_quality_loss_adds_the_ranking_term_within_targets():
    from types import SimpleNamespace

    from intergraph.protein.tasks.quality.model import QualityTask

    out = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [3.0, 0.0]])
    batch = SimpleNamespace(y=torch.tensor([[0.2, 0.1], [0.8, 0.5], [0.5, 0.5]]), target=["a", "a", "b"])
    mse = torch.nn.functional.mse_loss(torch.sigmoid(out), batch.y)
    assert QualityTask().loss(out, batch) == pytest.approx(float(mse))
    # one pair within a target: decoy 1 (DockQ 0.8) over decoy 0 (0.2), logits -1 vs 1: softplus(1 - (-1))
    want = float(mse) + 0.5 * float(np.log1p(np.exp(2.0)))
    assert QualityTask(rank_weight=0.5).loss(out, batch) == pytest.approx(want)


def test_quality_metrics_rank_the_search_decoys_apart():
    from intergraph.protein.tasks.quality.model import QualityTask

    # target a: three search decoys ranked exactly (+1) and a perturbation the model puts on top;
    # target b: three search decoys ranked in reverse (-1)
    cat = {"pred_dockq": np.array([0.1, 0.2, 0.3, 0.9, 0.3, 0.2, 0.1]),
           "dockq": np.array([0.1, 0.5, 0.7, 0.0, 0.1, 0.2, 0.6]),
           "target": np.array(list("aaaabbb")),
           "source": np.array(["search", "search-head", "near-native", "perturbation", "search", "search", "search"])}
    got = QualityTask().metrics(cat)
    assert got["search_local_spearman"] == pytest.approx(0.0)      # mean of +1 and -1
    assert got["search_top1_dockq"] == pytest.approx((0.7 + 0.1) / 2)
    assert got["top1_dockq"] == pytest.approx((0.0 + 0.1) / 2)     # the perturbation ranked first on a
    only_search = {k: v[np.r_[0:3, 4:7]] for k, v in cat.items()}
    alone = QualityTask().metrics(only_search)
    assert alone["search_local_spearman"] == pytest.approx(alone["local_spearman"])
    assert "search_local_spearman" not in QualityTask().metrics({k: v[3:4] for k, v in cat.items()})
