"""Protein runs through the task registry: interface training on DB5 and on a user's folder, resume, stale run
folders, k-fold runs, evaluation on another labelled set, predictions on new pairs, and the comparison."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.errors import InputError
from intergraph.protein.io import read_structure
from intergraph.protein.run import DataConfig, ModelConfig, evaluate, read_config, train
from intergraph.protein.tasks.interface.run import InterfaceRun
from intergraph.train.config import TrainConfig

runner = CliRunner()
SMALL = {"train": ["1QA9", "7CEI", "2SNI", "4POU"], "val": ["1NW9"], "test": ["1AVX", "1ZHI"]}
#: the six smallest DB5 complexes with ESM-2 650M embeddings
TINY = ["2OOB", "1GCQ", "2X9A", "1EFN", "3PC8", "1AY7"]
QUIET = {"log": lambda m: None}


def tiny(tmp_path, plm="none", encoder="gvp"):
    return InterfaceRun(
        data=DataConfig(plm=plm, train_ids=SMALL["train"], val_ids=SMALL["val"], test_ids=SMALL["test"],
                        cache_dir=str(tmp_path / "cache")),
        model=ModelConfig(encoder=encoder, layers=1, out_dim=16),
        train=TrainConfig(monitor="val/auroc", mode="max", max_epochs=2, batch_size=2, lr=1e-3, accelerator="cpu"),
    )


def test_train_writes_everything_resumes_refuses_a_stale_folder_and_evaluates(db5_root, tmp_path):
    cfg = tiny(tmp_path)
    result = train(cfg, tmp_path / "run", progress=False, **QUIET)
    for name in ("config.yaml", "metrics.json", "metrics.csv", "checkpoints/best.ckpt", "checkpoints/last.ckpt",
                 "predictions_test.npz", "items.csv"):
        assert (tmp_path / "run" / name).exists(), name
    test = result["test"]
    assert test["complexes"] == 2 and 0 <= test["auroc"] <= 1 and test["residues"] > 300
    assert read_config(tmp_path / "run" / "config.yaml") == cfg and "task: interface" in \
        (tmp_path / "run" / "config.yaml").read_text()
    assert train(cfg, tmp_path / "run", progress=False, **QUIET)["test"] == test
    moved = tiny(tmp_path)
    moved.data.cache_dir = str(tmp_path / "elsewhere")  # a location, not part of the run's identity
    assert train(moved, tmp_path / "run", progress=False, **QUIET)["test"] == test
    other = tiny(tmp_path)
    other.model.out_dim = 32
    with pytest.raises(InputError, match=r"another config \(model.out_dim: 16 -> 32\)"):
        train(other, tmp_path / "run", progress=False, **QUIET)
    assert train(other, tmp_path / "run", progress=False, overwrite=True, **QUIET)["parameters"]["total"] != \
        result["parameters"]["total"]
    shown = runner.invoke(app, ["protein", "evaluate", str(tmp_path / "run")])
    assert shown.exit_code == 0, shown.output
    items = list(csv.DictReader(open(tmp_path / "run" / "items.csv")))
    assert sorted(i["item"] for i in items) == SMALL["test"] and all(0 <= float(i["auroc"]) <= 1 for i in items)


def test_a_run_is_reproducible_from_its_config_file(db5_root, tmp_path):
    cfg = tiny(tmp_path)
    cfg.train.max_epochs = 1
    first = train(cfg, tmp_path / "a", progress=False, **QUIET)
    res = runner.invoke(app, ["protein", "train", "--config", str(tmp_path / "a" / "config.yaml"), "--out",
                              str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    again = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert again["test"]["auroc"] == pytest.approx(first["test"]["auroc"], abs=1e-6)
    bad = runner.invoke(app, ["protein", "train", "--task", "docking", "--config", str(tmp_path / "a" / "config.yaml"),
                              "--out", str(tmp_path / "c")])
    assert bad.exit_code == 2 and "is a interface config" in bad.output


def test_unbound_inputs_train_with_transferred_labels(db5_root, tmp_path):
    cfg = tiny(tmp_path)
    cfg.data.form = "u"
    cfg.train.max_epochs = 1
    result = train(cfg, tmp_path / "run", progress=False, **QUIET)
    assert result["test"]["complexes"] == 2 and 0 <= result["test"]["auroc"] <= 1


def test_plm_arm_uses_the_real_embeddings(data_root, tmp_path):
    result = train(tiny(tmp_path, plm="esm2_650m"), tmp_path / "run", progress=False, **QUIET)
    # only complexes with ESM-2 650M embeddings for both partners stay: 7CEI, 1AVX, 1ZHI of SMALL
    assert result["test"]["complexes"] == 2 and result["parameters"]["plm_fusion"] > 1280 * 32


@pytest.fixture()
def user_folder(db5_root, tmp_path):
    """DB5 complexes under other names: PDB (gzipped or not) and mmCIF files, as a user would have them."""
    import gemmi

    folder = tmp_path / "mine"
    folder.mkdir()
    for k, cid in enumerate(TINY):
        for role in "rl":
            src = db5_root / "structures" / f"{cid}_{role}_b.pdb.gz"
            if k == 0:
                gemmi.read_structure(str(src)).make_mmcif_document().write_file(str(folder / f"cplx{k}_{role}.cif"))
            else:
                shutil.copy(src, folder / f"cplx{k}_{role}.pdb.gz")
    return folder


def test_user_folder_trains_predicts_and_is_evaluated_through_the_cli(user_folder, db5_root, tmp_path):
    run = tmp_path / "run"
    base = ["--encoder", "egnn", "--layers", "1", "--epochs", "1", "--batch-size", "2", "--cache", str(tmp_path / "c")]
    res = runner.invoke(app, ["protein", "train", "--data", str(user_folder), "--split", "random", "--split-seed", "1",
                              "--set", "data.test_fraction=0.34", "--out", str(run)] + base)
    assert res.exit_code == 0, res.output
    result = json.loads((run / "metrics.json").read_text())
    assert result["test"]["complexes"] == 2 and result["val"]["complexes"] == 1
    # one pair: per-residue CSV and PDB files whose B-factors are the probabilities
    out = tmp_path / "pred"
    r, lig = user_folder / "cplx1_r.pdb.gz", user_folder / "cplx1_l.pdb.gz"
    res = runner.invoke(app, ["protein", "predict", "--model", str(run), "--receptor", str(r), "--ligand", str(lig),
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(out / "cplx1_interface.csv")))
    structures = {"receptor": read_structure(r), "ligand": read_structure(lig)}
    assert {row["partner"] for row in rows} == {"receptor", "ligand"}
    n_nodes = {p: sum(1 for row in rows if row["partner"] == p) for p in structures}
    assert all(n_nodes[p] == sum(len(c.residues) for c in s.chains()) for p, s in structures.items())
    prob = np.array([float(row["probability"]) for row in rows])
    assert ((prob >= 0) & (prob <= 1)).all() and prob.std() > 0
    pdb = read_structure(out / "cplx1_receptor.pdb")
    by_residue = {(str(row["chain"]), int(row["residue_number"]), row["insertion_code"]): float(row["probability"])
                  for row in rows if row["partner"] == "receptor"}
    for res_i in range(pdb.n_residues):
        key = (str(pdb.res_chain[res_i]), int(pdb.res_number[res_i]), pdb.res_icode[res_i])
        if key in by_residue:
            b = pdb.b_factor[pdb.atom_residue == res_i]
            assert np.allclose(b, by_residue[key], atol=0.006)  # PDB B-factors carry two decimals
    assert len(pdb.coord) == len(structures["receptor"].coord)
    # many pairs at once, from a CSV
    (tmp_path / "pairs.csv").write_text("id,receptor,ligand\n" + "".join(
        f"p{k},{user_folder / f'cplx{k}_r.pdb.gz'},{user_folder / f'cplx{k}_l.pdb.gz'}\n" for k in (1, 2)))
    res = runner.invoke(app, ["protein", "predict", "--model", str(run), "--pairs", str(tmp_path / "pairs.csv"),
                              "--out", str(tmp_path / "many")])
    assert res.exit_code == 0, res.output
    assert {p.name for p in (tmp_path / "many").iterdir()} == {
        f"p{k}_{what}" for k in (1, 2) for what in ("interface.csv", "receptor.pdb", "ligand.pdb")}
    # a DB5-trained run scores the user's folder (every complex is test data)
    db5_run = tmp_path / "db5run"
    cfg = tiny(tmp_path)
    cfg.train.max_epochs = 1
    train(cfg, db5_run, progress=False, **QUIET)
    res = runner.invoke(app, ["protein", "evaluate", str(db5_run), "--data", str(user_folder)])
    assert res.exit_code == 0, res.output
    scored = evaluate(db5_run, str(user_folder), log=lambda m: None)
    assert scored["test"]["complexes"] == len(TINY) and set(scored) == {"test"}
    assert (db5_run / "evaluations" / "mine" / "items.csv").exists()


def test_kfold_run_holds_one_run_per_fold_and_evaluates_each(user_folder, tmp_path):
    cfg = tiny(tmp_path, encoder="egnn")
    cfg.data = DataConfig(source=str(user_folder), split="kfold", folds=3, cache_dir=str(tmp_path / "cache"))
    cfg.train.max_epochs = 1
    result = train(cfg, tmp_path / "cv", progress=False, **QUIET)
    assert len(result["folds"]) == 3 and set(result["mean"]) == {"auroc", "auprc", "median_group_auroc"}
    tested = [i["item"] for k in range(3) for i in csv.DictReader(open(tmp_path / "cv" / f"fold{k}" / "items.csv"))]
    assert sorted(tested) == sorted(f"cplx{k}" for k in range(6))  # every complex tested once
    again = evaluate(tmp_path / "cv", log=lambda m: None)
    assert [f["test"]["auroc"] for f in again["folds"]] == pytest.approx([f["auroc"] for f in result["folds"]])


def test_compare_writes_both_spreads_intervals_figures_and_its_command(user_folder, tmp_path):
    out = tmp_path / "cmp"
    args = ["protein", "compare", "--out", str(out), "--data", str(user_folder), "--encoders", "egnn", "--plm",
            "none,default", "--seeds", "2", "--split", "kfold", "--folds", "2", "--epochs", "1", "--layers", "1",
            "--batch-size", "2", "--lr", "1e-3", "--cache", str(tmp_path / "cache")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("results.csv", "summary.csv", "summary.md", "gains.csv", "figure.png", "gains.png", "command.txt",
                 "config.yaml"):
        assert (out / name).exists(), name
    md = (out / "summary.md").read_text()
    assert "| egnn | none | 2 × 2 |" in md and "| egnn | default | 2 × 2 |" in md
    assert "95 % bootstrap interval" in md and "| egnn | default | 4 |" in md
    assert (out / "command.txt").read_text().startswith("intergraph protein compare --out ")
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 8
    # paired: both arms of a seed test the same complexes; seeds split differently
    tests = {(r["plm"], r["seed"], r["fold"]): sorted(i["item"] for i in csv.DictReader(open(f"{r['run']}/items.csv")))
             for r in rows}
    for seed in "01":
        for fold in "01":
            assert tests[("none", seed, fold)] == tests[("default", seed, fold)]
    assert tests[("none", "0", "0")] != tests[("none", "1", "0")]
    assert runner.invoke(app, args).exit_code == 0  # a rerun reads the finished runs
    stale = runner.invoke(app, [a if a != "1e-3" else "2e-3" for a in args])
    assert stale.exit_code == 2 and "another config (train.lr: 0.001 -> 0.002)" in stale.output


def test_compare_refuses_arms_without_shared_complexes(user_folder, tmp_path):
    # the shared ESM-2 650M embeddings are named after DB5 complexes and were computed from the unbound sequences
    res = runner.invoke(app, ["protein", "compare", "--out", str(tmp_path / "c"), "--data", str(user_folder),
                              "--encoders", "egnn", "--plm", "none,esm2_650m", "--cache", str(tmp_path / "cache")])
    assert res.exit_code == 2 and "no complex that every arm of none, esm2_650m can serve" in res.output


def test_docking_and_qa_train_on_a_user_folder(user_folder, tmp_path):
    """Docking is tested on seeded random motions of the test complexes (no EquiDock protocol in a user folder);
    QA builds its decoys from the folder's complexes."""
    base = ["--data", str(user_folder), "--split", "random", "--encoder", "egnn", "--layers", "1", "--epochs", "1",
            "--batch-size", "2", "--cache", str(tmp_path / "c"), "--set", "data.test_fraction=0.34"]
    res = runner.invoke(app, ["protein", "train", "--task", "docking", "--out", str(tmp_path / "dock")] + base)
    assert res.exit_code == 0, res.output
    items = list(csv.DictReader(open(tmp_path / "dock" / "items.csv")))
    assert len(items) == 2 and {i["inputs"] for i in items} == {"random_motion"}
    assert all(float(i["crmsd"]) > 0 and 0 <= float(i["dockq"]) <= 1 for i in items)
    # the docked ligand of a test complex is the input ligand moved rigidly, the receptor unchanged
    cid = items[0]["item"]
    truth = read_structure(user_folder / f"{cid}_r.pdb.gz") if (user_folder / f"{cid}_r.pdb.gz").exists() \
        else read_structure(user_folder / f"{cid}_r.cif")
    written = read_structure(tmp_path / "dock" / "test_predictions" / f"{cid}_r_b_INTERGRAPH.pdb")
    np.testing.assert_allclose(written.coord, truth.coord, atol=6e-4)
    res = runner.invoke(app, ["protein", "train", "--task", "qa", "--out", str(tmp_path / "qa"),
                              "--set", "quality.decoys_per_target=2", "--set", "quality.test_decoys_per_target=3",
                              "--set", "quality.surface_per_target=1", "--set", "quality.clash_per_target=0",
                              "--set", "quality.external=false"] + base)
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "qa" / "metrics.json").read_text())
    assert result["test_by_source"]["perturbation"]["decoys"] == 2 * 3 and "external" not in result
    assert "docking methods" not in result["test_by_source"]  # no EquiDock baselines outside DB5.5


def test_a_run_held_by_another_live_process_is_left_to_it_then_taken_over_when_it_dies(user_folder, tmp_path):
    import subprocess

    from intergraph.train.experiment import LOCK, RunBusy

    cfg = tiny(tmp_path, encoder="egnn")
    cfg.data = DataConfig(source=str(user_folder), split="kfold", folds=3, cache_dir=str(tmp_path / "cache"))
    cfg.train.max_epochs = 1
    other = subprocess.Popen(["sleep", "600"])  # "another worker", alive, holding fold 1
    (tmp_path / "cv" / "fold1").mkdir(parents=True)
    (tmp_path / "cv" / "fold1" / LOCK).write_text(f"{other.pid} {__import__('socket').gethostname()} now")
    try:
        with pytest.raises(RunBusy, match=r"folds \[1\]"):
            train(cfg, tmp_path / "cv", progress=False, wait=False, **QUIET)
        assert (tmp_path / "cv" / "fold0" / "metrics.json").exists()  # the free folds were trained
        assert (tmp_path / "cv" / "fold2" / "metrics.json").exists()
        assert not (tmp_path / "cv" / "fold1" / "metrics.json").exists()
    finally:
        other.kill()
        other.wait()
    result = train(cfg, tmp_path / "cv", progress=False, **QUIET)  # its holder died: the run is taken over
    assert len(result["folds"]) == 3 and not (tmp_path / "cv" / "fold1" / LOCK).exists()
