"""Single-chain model sets (psr_casp13 layout), the reference-free baselines and the per-target ranking metrics."""
from __future__ import annotations

import csv
import gzip
import math

import numpy as np
import pytest
import torch

from intergraph.errors import InputError
from intergraph.protein.io import parse_pdb
from intergraph.protein.tasks.chain_quality.baselines import (
    baseline_scores,
    baseline_table,
    compactness,
    consensus,
    coverage,
)
from intergraph.protein.tasks.chain_quality.data import read_extra_sets, read_model_sets
from intergraph.train.metrics import bootstrap_mean, ranking_metrics

from .test_model_scores import helix


def test_ranking_metrics_by_hand():
    pred = np.array([0.1, 0.2, 0.3, 1.0, 2.0, 5.0])
    truth = np.array([0.3, 0.2, 0.1, 0.4, 0.6, 0.9])
    groups = np.array(["a", "a", "a", "b", "b", "c"])
    r = ranking_metrics(pred, truth, groups)
    assert r["per_group"]["a"] == (pytest.approx(-1.0), pytest.approx(0.2), 3)  # picks 0.1 where 0.3 was there
    assert r["per_group"]["b"] == (pytest.approx(1.0), pytest.approx(0.0), 2)
    assert "c" not in r["per_group"] and r["targets"] == 2  # one model: nothing to rank
    assert r["per_target_spearman"] == pytest.approx(0.0) and r["top1_loss"] == pytest.approx(0.1)
    assert r["spearman"] == pytest.approx(1 - 6 * 8 / (6 * 35))  # ranks 1..6 against (3, 2, 1, 4, 5, 6)


def test_bootstrap_mean():
    mean, low, high = bootstrap_mean(np.array([0.5, 0.5, math.nan, 0.5]))
    assert mean == low == high == 0.5
    mean, low, high = bootstrap_mean(np.arange(100.0))
    assert low < mean == 49.5 < high and high - low < 25


def write_set(root, models: dict[str, str], labels: list[str]):
    (root / "targets" / "T1" / "models").mkdir(parents=True)
    (root / "targets" / "T1" / "native.pdb").write_text(helix(30))
    for name, text in models.items():
        (root / "targets" / "T1" / "models" / f"{name}.pdb.gz").write_bytes(gzip.compress(text.encode()))
    (root / "labels.csv").write_text("target,model,gdt_ts,lddt,tm_score\n" + "".join(f"{line}\n" for line in labels))


def test_model_set_folder_reader_lists_missing_files_and_rejects_bad_labels(tmp_path):
    write_set(tmp_path / "ok", {"m1": helix(30), "m2": helix(20)},
              ["T1,m1,1.0,1.0,1.0", "T1,m2,0.6,0.7,0.6", "T1,m3,0.5,0.5,0.5"])
    sets, skipped = read_model_sets(tmp_path / "ok")
    assert [m.name for m in sets["T1"].models] == ["m1", "m2"] and sets["T1"].native.name == "native.pdb"
    assert skipped and skipped[0][0] == "T1/m3"
    write_set(tmp_path / "bad", {"m1": helix(30)}, ["T1,m1,67.0,0.7,0.6"])
    with pytest.raises(InputError, match="line 2: gdt_ts 67.0 is not a fraction"):
        read_model_sets(tmp_path / "bad")


def test_baselines_by_hand():
    full, part = parse_pdb(helix(30)), parse_pdb(helix(20))
    assert coverage(full) == 30 and coverage(part) == 20
    xyz = full.coord.astype(np.float64)
    rg = np.sqrt(((xyz - xyz.mean(0)) ** 2).sum(1).mean())
    assert compactness(full) == pytest.approx(-rg / (2.2 * 30 ** 0.38))
    # two identical full models and a partial one: the full ones agree with each other completely
    c = consensus([full, full, part])
    # TM-score normalised by the other model's length: the partial model loses the residues it leaves out
    assert c[0] == pytest.approx(1.0) and c[2] == pytest.approx(20 / 30)
    sampled = consensus([full] * 6, partners=2)
    assert np.allclose(sampled, 1.0)


def test_baseline_table_on_a_folder(tmp_path):
    write_set(tmp_path, {"m1": helix(30), "m2": helix(20), "m3": helix(10)},
              ["T1,m1,1.0,1.0,1.0", "T1,m2,0.6,0.7,0.6", "T1,m3,0.3,0.4,0.3"])
    sets, _ = read_model_sets(tmp_path)
    scores = {"T1": baseline_scores(sets["T1"])}
    lines = baseline_table(sets, scores, many=3)
    row = next(line for line in lines if line.startswith("| coverage |"))
    assert "| 1.000 [1.000, 1.000] | 0.000 [0.000, 0.000] |" in row  # more residues = better here, exactly


def test_psr_casp13_counts(data_root):
    sets, skipped = read_model_sets("psr_casp13")
    assert len(sets) == 39 and sum(len(s.models) for s in sets.values()) == 713 and not skipped
    assert all(s.native is not None for s in sets.values())
    extra, skipped = read_extra_sets("psr_casp13")
    assert sorted(extra) == ["T0953s1-D1", "T0974s1-D1", "T1019s2-D1"] and not skipped
    assert sum(len(s.models) for s in extra.values()) == 425
    assert all(s.native is None and math.isnan(s.models[0].lddt) for s in extra.values())


# ------------------------------------------------------------------------------------ the task, end to end
def noisy_helix(n: int, noise: float, seed: int) -> str:
    """A helix with Gaussian noise on its Cα (the larger the noise, the worse the model), with backbone atoms
    placed beside each Cα so the residue graph has its frames."""
    rng = np.random.default_rng(seed)
    lines, serial = [], 1
    for i in range(n):
        a = np.deg2rad(100.0 * i)
        ca = np.array([2.3 * np.cos(a), 2.3 * np.sin(a), 1.5 * i]) + rng.normal(0, noise, 3)
        for name, off in (("N", (-1.2, 0.6, -0.4)), ("CA", (0, 0, 0)), ("C", (1.3, 0.5, 0.3)), ("O", (1.8, 1.5, 0.6))):
            x, y, z = ca + np.array(off)
            lines.append(f"ATOM  {serial:5d}  {name:<3} ALA A{i + 1:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00"
                         f"           {name[0]}\n")
            serial += 1
    return "".join(lines)


def write_psr_folder(root, targets: int = 4, models: int = 5):
    from intergraph.protein.io import read_structure
    from intergraph.protein.model_scores import score_model

    rows = ["target,model,gdt_ts,lddt,tm_score"]
    for t in range(targets):
        folder = root / "targets" / f"T{t}" / "models"
        folder.mkdir(parents=True)
        (folder.parent / "native.pdb").write_text(noisy_helix(24 + 2 * t, 0.0, 0))
        native = read_structure(folder.parent / "native.pdb")
        for k in range(models):
            path = folder / f"T{t}_m{k}.pdb"
            path.write_text(noisy_helix(24 + 2 * t, 0.3 + 1.2 * k, 100 * t + k))
            s = score_model(read_structure(path), native)
            rows.append(f"T{t},T{t}_m{k},{s['gdt_ts']:.4f},{s['lddt']:.4f},{s['tm_score']:.4f}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("encoder", ["egnn", "gvp", "molformer"])
def test_chain_qa_trains_by_target_folds_and_ranks_a_folder(tmp_path, encoder):
    """Every encoder: target-grouped folds, the per-target metrics, and a folder of models ranked by the run."""
    import json

    from typer.testing import CliRunner

    from intergraph.cli import app

    root = write_psr_folder(tmp_path / "psr")
    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(app, ["protein", "train", "--task", "chain_qa", "--data", str(root), "--split", "kfold",
                              "--folds", "2", "--epochs", "2", "--layers", "1", "--batch-size", "3", "--encoder",
                              encoder, "--cache", str(tmp_path / "c"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    for fold in (0, 1):
        split = json.loads((out / f"fold{fold}" / "split.json").read_text())
        assert len(split["test"]) == 2 and not set(split["test"]) & set(split["train"] + split["val"])
        items = list(csv.DictReader(open(out / f"fold{fold}" / "items.csv")))
        assert sorted(i["item"] for i in items) == sorted(split["test"]) and all(i["models"] == "5" for i in items)
    metrics = json.loads((out / "metrics.json").read_text())
    assert -1 <= metrics["mean"]["per_target_spearman"] <= 1 and metrics["mean"]["top1_loss"] >= 0
    models = root / "targets" / "T1" / "models"
    res = runner.invoke(app, ["protein", "predict", "--model", str(out), "--models", str(models), "--native",
                              str(root / "targets" / "T1" / "native.pdb"), "--out", str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    ranked = list(csv.DictReader(open(tmp_path / "pred" / "ranking.csv")))
    assert [r["rank"] for r in ranked] == ["1", "2", "3", "4", "5"]
    assert sorted(r["model"] for r in ranked) == sorted(p.name for p in models.iterdir())
    labels = {r["model"]: r for r in csv.DictReader(open(root / "labels.csv"))}
    for r in ranked:  # the native's scores beside the prediction equal the labels
        label = labels[r["model"].removesuffix(".pdb")]
        assert float(r["gdt_ts"]) == pytest.approx(float(label["gdt_ts"]), abs=1e-4)


def write_extra(root, targets: int = 2, models: int = 4):
    """Targets without a native in the psr_casp13 layout (``extra_no_native/`` + official labels)."""
    rows = ["target,model,gdt_ts,lddt_allatom_official,tm_score"]
    for t in range(targets):
        folder = root / "extra_no_native" / f"X{t}" / "models"
        folder.mkdir(parents=True)
        for k in range(models):
            (folder / f"X{t}_m{k}.pdb").write_text(noisy_helix(26, 0.3 + 1.2 * k, 900 + 10 * t + k))
            rows.append(f"X{t},X{t}_m{k},{0.9 - 0.2 * k:.2f},0.5,{0.8 - 0.2 * k:.2f}")
    (root / "labels_official_only_no_native.csv").write_text("\n".join(rows) + "\n")


def test_chain_qa_held_out_targets_and_consensus_input(tmp_path):
    """With ``extra``, every fold model predicts the targets without a native (never in train/val/test); with
    ``consensus``, each graph carries its model's consensus score (equal to the baseline's), the network reads
    it, and a folder of user models gets it from its own models (one model alone: a clear error)."""
    import json

    from typer.testing import CliRunner

    from intergraph.cli import app
    from intergraph.protein.io import read_structure
    from intergraph.protein.run import read_config
    from intergraph.protein.tasks import task
    from intergraph.protein.tasks.chain_quality.heldout import ensemble, heldout_lines, per_target

    root = write_psr_folder(tmp_path / "psr")
    write_extra(root)
    spec = task("chain_qa")
    cfg = spec.default_config()
    cfg.data.source, cfg.data.folds, cfg.data.fold = str(root), 2, 0
    cfg.chain_quality.extra = cfg.chain_quality.consensus = True
    by_target, ids, _ = spec.graphs(cfg, print)
    assert ids["extra"] == ["X0", "X1"] and not set(ids["extra"]) & {t for k, v in ids.items() if k != "extra"
                                                                     for t in v}
    sets, _ = read_model_sets(root)
    expected = consensus([read_structure(m.path) for m in sets["T1"].models])
    assert np.allclose([g.consensus.item() for g in by_target["T1"]], expected, atol=1e-6)
    model = spec.build_model(cfg, None)
    from torch_geometric.data import Batch

    batch = Batch.from_data_list(by_target["T1"])
    z0 = model(batch)[0].detach()
    batch.consensus = batch.consensus + 0.5
    assert not torch.allclose(model(batch)[0].detach(), z0)  # the head reads the consensus input
    torch.nn.init.zeros_(model.head[-1].weight)
    torch.nn.init.zeros_(model.head[-1].bias)  # no correction: the prediction is the consensus score itself
    assert torch.allclose(torch.sigmoid(model(batch)[0]).detach(), batch.consensus.clamp(0.01, 0.99), atol=1e-6)

    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(app, ["protein", "train", "--task", "chain_qa", "--data", str(root), "--split", "kfold",
                              "--folds", "2", "--epochs", "1", "--layers", "1", "--batch-size", "3", "--encoder",
                              "egnn", "--cache", str(tmp_path / "c"), "--set", "chain_quality.extra=true", "--set",
                              "chain_quality.consensus=true", "--out", str(out)])
    assert res.exit_code == 0, res.output
    folders = [out / "fold0", out / "fold1"]
    for f in folders:
        extra = list(csv.DictReader(open(f / "items_extra.csv")))
        assert sorted(i["item"] for i in extra) == ["X0", "X1"] and all(i["models"] == "4" for i in extra)
        assert json.loads((f / "metrics.json").read_text())["extra"]["models"] == 8
        assert read_config(f / "config.yaml").chain_quality.consensus
    scored = ensemble(folders)
    assert len(scored) == 8 and scored[("X0", "X0_m0")][1] == pytest.approx(0.9)
    one = {r["model"]: float(r["predicted_gdt_ts"]) for r in csv.DictReader(open(folders[0] / "predictions_extra.csv"))}
    two = {r["model"]: float(r["predicted_gdt_ts"]) for r in csv.DictReader(open(folders[1] / "predictions_extra.csv"))}
    assert scored[("X1", "X1_m2")][0] == pytest.approx((one["X1_m2"] + two["X1_m2"]) / 2, abs=1e-4)
    assert set(per_target(scored)) == {"X0", "X1"}
    rows = [{"encoder": "egnn", "plm": "none", "seed": 0, "run": str(f)} for f in folders]
    lines = heldout_lines(rows, {"perfect": {"X0": (1.0, 0.0), "X1": (1.0, 0.0)}})
    assert lines[0].startswith("| arm | seeds | X0 | X1 |")
    assert lines[-1] == "| perfect | – | 1.000 | 1.000 | 1.000 | 0.000 |"

    models = root / "targets" / "T1" / "models"
    res = runner.invoke(app, ["protein", "predict", "--model", str(out), "--models", str(models), "--out",
                              str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    assert len(list(csv.DictReader(open(tmp_path / "pred" / "ranking.csv")))) == 5
    lonely = tmp_path / "one"
    lonely.mkdir()
    (lonely / "m.pdb").write_text((models / "T1_m0.pdb").read_text())
    res = runner.invoke(app, ["protein", "predict", "--model", str(out), "--models", str(lonely), "--out",
                              str(tmp_path / "pred1")])
    assert res.exit_code != 0 and "at least 2 models" in res.output
