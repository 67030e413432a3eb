"""Interface restraints in the docking search: probabilities placed on the body's residues (observed and from a
trained interface run), one search pass scoring several candidate weight vectors as separate searches would,
the funnel of the observed interface, and the CLI paths (`protein dock --model INTERFACE_RUN`, the benchmark's
refusals)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.errors import InputError
from intergraph.protein.featurize import graph_nodes
from intergraph.protein.io import read_structure
from intergraph.protein.labels import interface_labels
from intergraph.protein.tasks.docking import restraints
from intergraph.protein.tasks.docking.grids import TERMS, Body, GridSpec, receptor_grid
from intergraph.protein.tasks.docking.search import Poses, SearchConfig, direct_terms
from intergraph.protein.tasks.docking.weights import complex_pools, funnel_rank, native_pose

runner = CliRunner()
NO_PAIR = (torch.zeros(0), torch.zeros(0, 21))     # no pair-potential channels


@pytest.fixture(scope="module")
def complex_7cei(db5_root):
    folder = db5_root / "docking_test" / "complexes"
    return tuple(read_structure(folder / f"7CEI_{r}_b_COMPLEX.pdb.gz") for r in "rl")


def test_probabilities_land_on_the_body_residues_and_missing_ones_add_nothing(complex_7cei):
    rec, _ = complex_7cei
    rows = Body.rows(rec)
    p = restraints.on_body(rec, rows[::-1][:-2], np.linspace(0.1, 0.9, len(rows) - 2)[::-1])
    assert len(p) == len(rows)
    np.testing.assert_allclose(p[2:], np.linspace(0.1, 0.9, len(rows) - 2))
    # the two residues without a prediction get the partner's mean: they add nothing to the centred term
    assert p[0] == p[1] == pytest.approx(0.5)
    with pytest.raises(InputError, match="no interface predictions"):
        restraints.on_body(rec, np.array([], dtype=int), np.array([]))


def test_observed_restraints_are_the_interface_labels(complex_7cei):
    rec, lig = complex_7cei
    pr, pl = restraints.observed(rec, lig)
    labels = interface_labels(rec, lig)
    for s, p, lab in ((rec, pr, labels.receptor_heavy), (lig, pl, labels.ligand_heavy)):
        nodes = graph_nodes(s)[0]
        want = dict(zip(nodes.tolist(), lab.astype(float)))
        assert p.tolist() == [want[int(r)] for r in Body.rows(s)]
        assert 10 < p.sum() < len(p) / 2       # a real interface: some residues, not most


def test_restraint_and_coupling_terms_are_their_sums_over_residue_contacts(complex_7cei):
    """At the native pose, with random probabilities: restraint = Σ (p_j − p̄) + (q_i − q̄) and coupling =
    Σ (p_j − p̄)(q_i − q̄) over receptor/ligand residue pairs whose voxel-rounded centroids lie within 6 Å."""
    g = np.random.default_rng(0)
    rec, lig = (Body.from_structure(s, g.random(len(Body.rows(s)))) for s in complex_7cei)
    spec = GridSpec()
    grid = receptor_grid(rec, lig.radius, spec, NO_PAIR)
    r0, t0 = native_pose(rec, lig)
    h, origin = spec.spacing, grid.origin.double()
    shift = torch.round((t0 - origin) / h)
    vr = torch.round((rec.centroids - origin) / h)
    vl = torch.round(lig.centroids @ r0.T / h) + shift
    near = torch.cdist(vl, vr) * h <= spec.contact + 1e-9             # (ligand, receptor) residue contacts
    p, q = rec.interface - rec.interface.mean(), lig.interface - lig.interface.mean()
    want_restraint = float((near * (p[None, :] + q[:, None])).sum())
    want_coupling = float((near * (q[:, None] * p[None, :])).sum())
    got = direct_terms(grid, lig, Poses(r0[None], (origin + shift * h)[None], torch.zeros(1)), NO_PAIR)[0]
    assert int(near.sum()) > 20                                         # the native pose: many contacts
    assert float(got[TERMS.index("restraint")]) == pytest.approx(want_restraint, abs=1e-4)
    assert float(got[TERMS.index("coupling")]) == pytest.approx(want_coupling, abs=1e-4)
    assert abs(want_coupling) > 0.1


def test_coupling_rewards_contacts_between_both_interfaces_and_restraint_does_not_tell(complex_7cei):
    """With the observed interface, the native pose scores a positive coupling; the native pose mirrored through
    the receptor's principal axis (the ligand's interface against receptor surface off the receptor's interface)
    gets a negative coupling, though it touches the receptor and its restraint stays positive."""
    rec, lig = (Body.from_structure(s, p) for s, p in zip(complex_7cei, restraints.observed(*complex_7cei)))
    spec = GridSpec()
    grid = receptor_grid(rec, lig.radius, spec, NO_PAIR)
    r0, t0 = native_pose(rec, lig)
    # the same ligand pose mirrored through the receptor's centre: its interface now faces the far side
    flip = torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64))
    poses = Poses(torch.stack([r0, flip @ r0]), torch.stack([t0, flip @ t0]), torch.zeros(2))
    h, origin = spec.spacing, grid.origin.double()
    poses.translation = origin + torch.round((poses.translation - origin) / h) * h
    terms = direct_terms(grid, lig, poses, NO_PAIR)
    coupling, restraint = terms[:, TERMS.index("coupling")], terms[:, TERMS.index("restraint")]
    assert coupling[0] > 5 and coupling[1] < 0
    assert terms[1, TERMS.index("shape")] > 20 and restraint[1] > 5


def test_one_search_pass_scores_candidates_as_separate_searches_and_the_observed_interface_finds_the_native(
        complex_7cei):
    rec_s, lig_s = complex_7cei
    rec, lig = (Body.from_structure(s, p) for s, p in zip(complex_7cei, restraints.observed(rec_s, lig_s)))
    native = native_pose(rec, lig)
    cfg = SearchConfig(step=60.0)
    candidates = [{"shape": 1.0, "clash": -3.0}, {"restraint": 1.0, "clash": -3.0}]
    both = complex_pools(rec, lig, native, cfg, candidates, None, pool=50)
    for k, w in enumerate(candidates):
        alone = complex_pools(rec, lig, native, cfg, [w], None, pool=50)[0]
        wv = torch.tensor([w.get(t, 0.0) for t in TERMS], dtype=torch.float64)
        # the same best scores (poses of equal score may come in another order)
        torch.testing.assert_close((alone[0].terms @ wv).sort().values, (both[k][0].terms @ wv).sort().values)
        torch.testing.assert_close(alone[1].terms, both[k][1].terms)
    search, funnel = both[1]
    assert funnel.terms[0, 3] > 10                       # the native pose buries the observed interface
    assert funnel_rank(search, funnel, candidates[1]) == 1


@pytest.fixture(scope="module")
def interface_run(db5_root, tmp_path_factory):
    from intergraph.protein.run import DataConfig, ModelConfig, train
    from intergraph.protein.tasks.interface.run import InterfaceRun
    from intergraph.train.config import TrainConfig

    tmp = tmp_path_factory.mktemp("iface")
    cfg = InterfaceRun(data=DataConfig(train_ids=["7CEI", "2SNI"], val_ids=["1NW9"], test_ids=["1AVX"],
                                       cache_dir=str(tmp / "cache")),
                       model=ModelConfig(encoder="gvp", layers=1, out_dim=16),
                       train=TrainConfig(monitor="val/auroc", mode="max", max_epochs=1, batch_size=2, lr=1e-3,
                                         accelerator="cpu"))
    train(cfg, tmp / "run", progress=False, log=lambda m: None)
    return tmp / "run"


def test_dock_with_an_interface_run_restrains_the_search(interface_run, db5_root, tmp_path):
    from intergraph.protein.run import load_models
    from intergraph.protein.tasks.interface.run import residue_probabilities

    inputs = db5_root / "docking_test" / "random_transformed"
    rec_f, lig_f = inputs / "7CEI_r_b.pdb.gz", inputs / "7CEI_l_b.pdb.gz"
    rec, lig = read_structure(rec_f), read_structure(lig_f)
    models = load_models(interface_run)
    pr, pl = restraints.predicted(models, rec, lig)
    raw = residue_probabilities(models, rec, lig)
    assert len(pr) == len(Body.rows(rec)) and len(pl) == len(Body.rows(lig))
    assert ((pr > 0) & (pr < 1)).all() and pr.std() > 0
    by_row = dict(zip(raw["r"][0].tolist(), raw["r"][1].tolist()))
    assert pr.tolist() == pytest.approx([by_row[int(r)] for r in Body.rows(rec)])
    out = tmp_path / "docked"
    res = runner.invoke(app, ["protein", "dock", "--receptor", str(rec_f), "--ligand", str(lig_f), "--out", str(out),
                              "--model", str(interface_run), "--step", "60", "--top", "2"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "search.json").read_text())
    assert meta["arm"] == "shape+pair+interface" and meta["weights"]["restraint"] > 0
    assert meta["interface"] == str(interface_run)
    assert (out / "rank02.pdb").exists()
    # an arm with interface terms (restraint; coupling alone) without probabilities, the oracle on unbound
    # inputs: one clear error each
    for arm in ("shape+pair+restraint", "shape+pair+restraint0+coupling5"):
        res = runner.invoke(app, ["protein", "dock", "--receptor", str(rec_f), "--ligand", str(lig_f), "--out",
                                  str(tmp_path / "x"), "--arm", arm, "--step", "60"])
        assert res.exit_code == 2 and "interface run" in res.output
        res = runner.invoke(app, ["protein", "dock-benchmark", "--out", str(tmp_path / "b"), "--arms", arm,
                                  "--ids", "7CEI", "--step", "60"])
        assert res.exit_code == 2 and "--interface" in res.output
    res = runner.invoke(app, ["protein", "dock-benchmark", "--out", str(tmp_path / "b"), "--arms", "shape",
                              "--ids", "7CEI", "--inputs", "unbound", "--interface", "truth", "--step", "60"])
    assert res.exit_code == 2 and "bound inputs only" in res.output
    # a run of another task as the restraint source: one clear error
    other = dataclasses.replace(models[0], cfg=dataclasses.replace(models[0].cfg, task="qa"))
    with pytest.raises(InputError, match="an interface run is needed, not a qa run"):
        restraints.predicted([other], rec, lig)


def test_benchmark_inputs_are_the_protocol_files_for_test_complexes_and_the_bound_files_otherwise(db5_root):
    from intergraph.protein.db5 import DB5
    from intergraph.protein.tasks.docking.benchmark import inputs_of

    protocol = db5_root / "docking_test"
    rec, lig, true_r, true_l = inputs_of("7CEI", "bound", db5_root)
    assert rec.parent == protocol / "random_transformed" and lig.name.startswith("7CEI_l_b")
    assert true_r.parent == protocol / "complexes" and true_l.name.startswith("7CEI_l_b_COMPLEX")
    val = DB5(root=db5_root, split="val").ids[0]
    rec, lig, true_r, true_l = inputs_of(val, "bound", db5_root)
    assert (rec, lig) == (true_r, true_l) and rec.name.startswith(f"{val}_r_b.")
    rec, lig, true_r, true_l = inputs_of(val, "unbound", db5_root)
    assert lig.name.startswith(f"{val}_l_u.") and true_l.name.startswith(f"{val}_l_b.")
    with pytest.raises(InputError, match="bound or unbound"):
        inputs_of(val, "moved", db5_root)


def test_the_default_interface_arm_is_the_one_chosen_with_the_runs_plm(monkeypatch):
    from intergraph.protein.tasks.docking import search

    chosen = {search.INTERFACE_ARM, f"{search.INTERFACE_ARM}-esm2_650m"}

    def fitted(arm):
        if arm not in chosen:
            raise ValueError(arm)
        return {}

    monkeypatch.setattr(search, "fitted_weights", fitted)
    assert search.interface_arm("none") == search.INTERFACE_ARM
    assert search.interface_arm("esm2_650m") == "shape+pair+interface-esm2_650m"
    assert search.interface_arm("default") == search.INTERFACE_ARM   # no choice made with the own PLM: the fallback
    assert search.interface_arm("/some/store") == search.INTERFACE_ARM
