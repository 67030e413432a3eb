"""Interface prediction end to end on real DB5 complexes: train, resume, evaluate, compare with/without PLM."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.protein.compare import kfold
from intergraph.protein.experiment import DataConfig, InterfaceRun, ModelConfig, train_interface
from intergraph.train.config import TrainConfig

runner = CliRunner()
SMALL = {"train": ["1QA9", "7CEI", "2SNI", "4POU"], "val": ["1NW9"], "test": ["1AVX", "1ZHI"]}


def tiny(tmp_path, plm="none", encoder="gvp"):
    return InterfaceRun(
        data=DataConfig(plm=plm, train_ids=SMALL["train"], val_ids=SMALL["val"], test_ids=SMALL["test"],
                        cache_dir=str(tmp_path / "cache")),
        model=ModelConfig(encoder=encoder, layers=1, out_dim=16),
        train=TrainConfig(monitor="val/auroc", mode="max", max_epochs=2, batch_size=2, lr=1e-3, accelerator="cpu"),
    )


def test_train_writes_everything_and_resumes_as_a_no_op(db5_root, tmp_path):
    cfg = tiny(tmp_path)
    result = train_interface(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    for name in ("config.yaml", "metrics.json", "metrics.csv", "checkpoints/best.ckpt", "checkpoints/last.ckpt",
                 "predictions_test.npz"):
        assert (tmp_path / "run" / name).exists(), name
    test = result["test"]
    assert test["complexes"] == 2 and 0 <= test["auroc"] <= 1 and test["residues"] > 300
    again = train_interface(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert again["test"] == test
    other = tiny(tmp_path)
    other.model.out_dim = 32
    with pytest.raises(ValueError, match="another config"):
        train_interface(other, tmp_path / "run", progress=False, log=lambda m: None)
    shown = runner.invoke(app, ["protein", "evaluate", str(tmp_path / "run")])
    assert shown.exit_code == 0, shown.output
    assert f"{test['auroc']:.4f}" in shown.output


def test_unbound_inputs_train_with_transferred_labels(db5_root, tmp_path):
    cfg = tiny(tmp_path)
    cfg.data.form = "u"
    cfg.train.max_epochs = 1
    result = train_interface(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert result["test"]["complexes"] == 2 and 0 <= result["test"]["auroc"] <= 1


def test_plm_arm_uses_the_real_embeddings(data_root, tmp_path):
    result = train_interface(tiny(tmp_path, plm="esm2_650m"), tmp_path / "run", progress=False, log=lambda m: None)
    # only complexes with ESM-2 650M embeddings for both partners stay: 7CEI, 1AVX, 1ZHI of SMALL
    assert result["test"]["complexes"] == 2 and result["parameters"]["plm_fusion"] > 1280 * 32


def test_kfold_partitions_the_pool():
    ids = [f"C{i:02d}" for i in range(74)]
    folds = kfold(ids, 5)
    tests = [t for _, _, t in folds]
    assert sorted(sum(tests, [])) == ids
    for train, val, test in folds:
        assert not set(train) & set(test) and not set(val) & set(test) and not set(train) & set(val)
        assert len(train) + len(val) + len(test) == 74
    assert kfold(ids, 5) == folds


def test_comparison_summary_is_mean_and_std_over_seeds_by_hand(tmp_path):
    from intergraph.protein.compare import write_outputs

    np.savez(tmp_path / "predictions_test.npz", score=np.array([0.1, 0.9, 0.4]), label=np.array([0, 1, 1]))
    auroc = {("none", 0): (0.60, 0.70), ("none", 1): (0.50, 0.60), ("esm2_650m", 0): (0.80, 0.70),
             ("esm2_650m", 1): (0.90, 0.60)}
    rows = [{"encoder": "gvp", "plm": arm, "seed": seed, "fold": f, "run": str(tmp_path), "parameters": 10,
             "auroc": v[f], "auprc": 0.5, "median_group_auroc": 0.5} for (arm, seed), v in auroc.items() for f in (0, 1)]
    write_outputs(rows, tmp_path / "out")
    md = (tmp_path / "out" / "summary.md").read_text()
    # none: seed means 0.65 and 0.55 -> 0.60 ± 0.05; esm: 0.75 and 0.75 -> 0.75 ± 0
    assert "| gvp | none | 2 | 4 | 10 | 0.6000 ± 0.0500 |" in md
    assert "| gvp | esm2_650m | 2 | 4 | 10 | 0.7500 ± 0.0000 |" in md
    # gains per pair: +0.2, 0.0 (seed 0: mean +0.1), +0.4, 0.0 (seed 1: +0.2) -> +0.15 ± 0.05, 2 of 4 improved
    assert "| gvp | esm2_650m | 4 | +0.1500 ± 0.0500 | 2/4 |" in md


def test_compare_writes_tables_and_figures(data_root, tmp_path):
    result = runner.invoke(app, ["protein", "compare", "--out", str(tmp_path / "cmp"), "--encoders", "egnn",
                                 "--plm", "none,esm2_650m", "--seeds", "1", "--folds", "2", "--epochs", "1",
                                 "--layers", "1", "--batch-size", "2", "--lr", "1e-3", "--max-complexes", "6",
                                 "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    for name in ("results.csv", "summary.csv", "summary.md", "roc_curves.png", "plm_gain.png"):
        assert (tmp_path / "cmp" / name).exists(), name
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "| egnn | none | 1 | 2 |" in md and "| egnn | esm2_650m | 1 | 2 |" in md
    runs = sorted((tmp_path / "cmp" / "runs").iterdir())
    assert len(runs) == 4
    # paired: the same test complexes in both arms
    a = json.loads((runs[0] / "metrics.json").read_text())["test"]["complexes"]
    b = json.loads((runs[2] / "metrics.json").read_text())["test"]["complexes"]
    assert a == b == 3
