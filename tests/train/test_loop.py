"""The training layer: exact resume after a stop, logs/checkpoints/config on disk, DDP ranks in lock-step."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from intergraph.train.config import load_yaml, save_yaml
from intergraph.train.metrics import binary_metrics, regression_metrics

from .toy import run


def test_resume_continues_exactly(tmp_path):
    straight, _ = run(tmp_path / "a", 4)
    run(tmp_path / "b", 2)  # stopped after two epochs ...
    resumed, trainer = run(tmp_path / "b", 4)  # ... and started again with the full budget
    assert trainer.current_epoch == 4
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_run_folder_holds_checkpoints_and_logs(tmp_path):
    run(tmp_path / "r", 2)
    for path in ("checkpoints/best.ckpt", "checkpoints/last.ckpt", "metrics.csv"):
        assert (tmp_path / "r" / path).exists(), path
    assert any((tmp_path / "r" / "tensorboard").glob("events.out.tfevents*"))
    lines = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    assert "val/rmse" in lines[0] and "train/loss" in lines[0] and "lr" in lines[0] and len(lines) == 3
    run(tmp_path / "r", 3)  # resumed: rows are appended, none lost
    assert len((tmp_path / "r" / "metrics.csv").read_text().splitlines()) == 4


def test_learning_rate_drops_on_plateau(tmp_path):
    _, trainer = run(tmp_path / "p", 8, {"plateau_patience": 0, "plateau_factor": 0.5, "lr": 1e-6})
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert lr < 1e-6


def test_config_yaml_round_trip(tmp_path):
    from intergraph.protein.tasks.interface.run import InterfaceRun

    cfg = InterfaceRun()
    cfg.train.max_epochs = 3
    cfg.data.train_ids = ["1AVX", "7CEI"]
    save_yaml(cfg, tmp_path / "c.yaml")
    assert load_yaml(InterfaceRun, tmp_path / "c.yaml") == cfg
    (tmp_path / "bad.yaml").write_text("train:\n  learning_rate: 1\n")
    with pytest.raises(ValueError, match="unknown settings"):
        load_yaml(InterfaceRun, tmp_path / "bad.yaml")


def test_metrics_against_hand_computed_values():
    # 3 positives, 3 negatives; 8 of the 9 (pos, neg) pairs are ordered correctly -> AUROC 8/9
    scores = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1])
    labels = np.array([1, 1, 1, 0, 0, 0])
    m = binary_metrics(scores, labels, groups=np.array(["a", "a", "b", "a", "b", "b"]))
    assert m["auroc"] == pytest.approx(8 / 9)
    # precision at each positive: 1/1, 2/2, 3/4 -> AP = (1 + 1 + 0.75) / 3
    assert m["auprc"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert m["median_group_auroc"] == pytest.approx(1.0)  # a: 0.9,0.8 vs 0.6; b: 0.3 vs 0.2,0.1
    one_class = binary_metrics(np.array([0.1, 0.2]), np.array([0, 0]))
    assert np.isnan(one_class["auroc"])
    r = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 5.0]))
    assert r["rmse"] == pytest.approx(0.5)
    assert r["spearman"] == pytest.approx(1.0) and r["kendall"] == pytest.approx(1.0)


@pytest.mark.timeout(600)
def test_ddp_two_cpu_processes_keep_identical_weights(tmp_path):
    script = Path(__file__).with_name("toy.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    a = torch.load(tmp_path / "weights_rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "weights_rank1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    fresh = run(tmp_path / "fresh", 0)[0].state_dict()  # the untrained initialisation
    assert any(not torch.equal(a[k], fresh[k].cpu()) for k in a), "DDP run did not train"


def test_last_checkpoint_is_the_latest_epoch_even_after_an_earlier_best(tmp_path):
    """Lightning's save_last refreshes last.ckpt only with a new best; resuming must start from the latest."""
    run(tmp_path / "flat", 3, {"lr": 0.0})  # nothing changes: the best stays at epoch 0
    last = torch.load(tmp_path / "flat" / "checkpoints" / "last.ckpt", weights_only=False)
    best = torch.load(tmp_path / "flat" / "checkpoints" / "best.ckpt", weights_only=False)
    assert last["epoch"] == 2 and best["epoch"] == 0


def test_overrides_are_typed_and_unknown_names_are_refused():
    from intergraph.errors import InputError
    from intergraph.protein.tasks import task
    from intergraph.train.config import apply_overrides

    cfg = apply_overrides(task("docking").default_config(),
                          ["train.lr=5e-4", "docking.keypoints=4", "data.ids=1AVX,7CEI", "model.layers=null",
                           "data.plm=esm2_650m"])
    assert cfg.train.lr == 5e-4 and cfg.docking.keypoints == 4 and cfg.data.ids == ["1AVX", "7CEI"]
    assert cfg.model.layers is None and cfg.data.plm == "esm2_650m"
    for bad, message in (("train.lr=fast", "expected float"), ("docking.keypoints=4.5", "expected int"),
                         ("docking.teleport=1", "unknown setting 'teleport'"), ("quality.x=1", "no section"),
                         ("train", "SECTION.NAME=VALUE")):
        with pytest.raises(InputError, match=message):
            apply_overrides(task("docking").default_config(), [bad])
