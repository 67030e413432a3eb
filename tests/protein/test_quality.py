"""Model quality assessment: complex graphs of decoys, decoy generation and labels, metrics, and a run end to end."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.graph.features import rbf
from intergraph.graph.rigid import random_rotation
from intergraph.protein.docking_metrics import ca_coords, score_folder
from intergraph.protein.encoders import ResidueEncoder
from intergraph.protein.featurize import (
    CONTACT_BINS,
    contact_channels,
    featurize,
    interface_nodes,
    join_partners,
    moved,
    node_subgraph,
    virtual_cb,
)
from intergraph.protein.io import read_structure
from intergraph.protein.tasks.quality.decoys import (
    folder_decoys,
    perturbation_decoys,
    read_decoys,
    surface_decoys,
    write_decoys,
)
from intergraph.protein.tasks.quality.model import CONTACT_DIM, QualityModel, decoy_graph, top1_quality

runner = CliRunner()


@pytest.fixture(scope="module")
def partners(db5_root):
    return {role: read_structure(db5_root / "structures" / f"7CEI_{role}_b.pdb.gz") for role in "rl"}


def test_join_partners_adds_only_close_partner_edges(partners):
    r, l = (featurize(partners[k]) for k in "rl")
    g = join_partners(r, l, contact_radius=12.0)
    n_r = r.num_nodes
    assert g.num_nodes == n_r + l.num_nodes and int(g.partner.sum()) == l.num_nodes
    intra = r.edge_index.shape[1] + l.edge_index.shape[1]
    src, dst = g.edge_index[:, intra:]
    assert len(src) > 0 and ((src < n_r) != (dst < n_r)).all()  # every added edge crosses the interface
    assert ((g.pos[src] - g.pos[dst]).norm(dim=-1) < 12.0).all()
    assert g.edge_s.shape[1] == r.edge_s.shape[1] and g.edge_v.shape[1:] == r.edge_v.shape[1:]
    far = join_partners(r, moved(l, torch.eye(3), torch.tensor([200.0, 0, 0])))
    assert far.edge_index.shape[1] == intra


def test_interface_graph_keeps_the_interface_residues_and_every_partner_edge(partners):
    r, l = (featurize(partners[k]) for k in "rl")
    keep_r, keep_l = interface_nodes(r.pos, l.pos, 12.0)
    near = torch.cdist(r.pos, l.pos) < 12.0
    assert torch.equal(keep_r, near.any(1)) and torch.equal(keep_l, near.any(0))   # 7CEI's interface > 8 each
    sub = node_subgraph(r, keep_r)
    idx = torch.nonzero(keep_r)[:, 0]
    for key in ("pos", "node_s", "node_v", "residue_type", "residue_number", "backbone"):
        assert torch.equal(sub[key], r[key][idx])
    inside = keep_r[r.edge_index[0]] & keep_r[r.edge_index[1]]
    assert sub.edge_index.shape[1] == int(inside.sum()) and torch.equal(sub.edge_s, r.edge_s[inside])
    assert torch.equal(idx[sub.edge_index], r.edge_index[:, inside])               # the same edges, renumbered
    whole, iface = join_partners(r, l), decoy_graph(r, l, interface=True)
    assert iface.num_nodes == int(keep_r.sum() + keep_l.sum()) < whole.num_nodes
    cross = (whole.partner[whole.edge_index[0]] != whole.partner[whole.edge_index[1]]).sum()
    assert (iface.partner[iface.edge_index[0]] != iface.partner[iface.edge_index[1]]).sum() == cross
    # a pose out of contact keeps the 8 nearest residues of each partner
    far = decoy_graph(r, l, (np.eye(3), np.array([200.0, 0, 0])), interface=True)
    assert far.num_nodes == 16 and int(far.partner.sum()) == 8


def test_quality_model_sees_the_pose_but_not_the_frame(partners):
    r, l = (featurize(partners[k]) for k in "rl")
    torch.manual_seed(0)
    model = QualityModel(ResidueEncoder("gvp", out_dim=16, layers=2)).eval()
    from torch_geometric.data import Batch

    def score(rec, lig):
        with torch.no_grad():
            batch = Batch.from_data_list([join_partners(rec, lig)])
            return model(batch), model.encoder(batch)[0]

    rot, t = random_rotation(torch.Generator().manual_seed(1)), torch.tensor([5.0, -30.0, 12.0])
    native, nodes = score(r, l)
    same, same_nodes = score(moved(r, rot, t), moved(l, rot, t))
    torch.testing.assert_close(same, native, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(same_nodes, nodes, atol=1e-4, rtol=1e-4)
    _, apart = score(r, moved(l, torch.eye(3), torch.tensor([100.0, 0, 0])))
    changed = (apart - nodes).abs().amax(-1) > 1e-2  # residues whose neighbourhood lost the partner
    assert 10 < int(changed.sum()) < len(nodes) - 50


def test_interface_model_reads_the_interface_size_and_not_the_frame(partners):
    from torch_geometric.data import Batch

    r, l = (featurize(partners[k]) for k in "rl")
    torch.manual_seed(0)
    model = QualityModel(ResidueEncoder("egnn", out_dim=16, layers=2), sizes=True).eval()
    rot, t = random_rotation(torch.Generator().manual_seed(2)), torch.tensor([-7.0, 30.0, 2.0])
    pose = (random_rotation(torch.Generator().manual_seed(3)), torch.tensor([4.0, 0.0, -3.0]))
    graphs = [decoy_graph(r, l, None, interface=True),
              decoy_graph(moved(r, rot, t), moved(l, rot, t), None, interface=True),     # another frame
              decoy_graph(r, l, pose, interface=True),
              decoy_graph(r, moved(l, *pose), None, interface=True)]                      # the pose as a structure
    with torch.no_grad():
        out = model(Batch.from_data_list(graphs))
        torch.testing.assert_close(out[1], out[0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(out[3], out[2], atol=1e-4, rtol=1e-4)
        model.head[0].weight[:, -2:] = 0                                          # the two size inputs cut
        assert (model(Batch.from_data_list(graphs[:1])) - out[0]).abs().max() > 1e-4


def test_virtual_cb_lies_where_the_real_cb_is(partners):
    s = partners["r"]
    g = featurize(s)
    cb = s.atom_index(("CB",))[g.structure_residue.numpy(), 0]
    has = cb >= 0                                                   # every residue but glycines
    err = (virtual_cb(g.backbone)[torch.from_numpy(has)] - torch.from_numpy(s.coord[cb[has]]).float()).norm(dim=-1)
    assert has.sum() > 40 and float(err.median()) < 0.1 and float(err.max()) < 0.5


def test_contact_channels_by_hand():
    from torch_geometric.data import Data

    # two residues: an ideal backbone, and a copy moved 6 Å along x with its O atom missing
    bb = torch.tensor([[-1.46, 0.0, 0.0], [0.0, 0.0, 0.0], [0.55, 1.42, 0.0], [1.7, 1.6, 0.4]])
    g = Data(backbone=torch.stack([bb, bb + torch.tensor([6.0, 0, 0])]),
             backbone_mask=torch.tensor([[True] * 4, [True, True, True, False]]),
             edge_index=torch.tensor([[0, 1], [1, 0]]))
    ch = contact_channels(g)
    assert ch.shape == (2, 2 * CONTACT_BINS)
    closest = min(float((g.backbone[0, a] - g.backbone[1, b]).norm()) for a in range(4) for b in range(3))
    want = torch.cat([rbf(torch.tensor([6.0]), 0.0, 20.0, CONTACT_BINS),        # Cβ moves with its residue
                      rbf(torch.tensor([closest]), 0.0, 20.0, CONTACT_BINS)], -1)[0]
    torch.testing.assert_close(ch[0], want)
    torch.testing.assert_close(ch[1], want)
    assert closest < 6.0 - 1.0               # 1's N against 0's O: the missing O of 1 is not used
    g.backbone_mask[1, 0] = False            # no N: no Cβ for residue 1
    assert float(contact_channels(g)[:, :CONTACT_BINS].abs().max()) == 0.0


def test_contact_channels_follow_the_pose_not_the_frame(partners):
    from torch_geometric.data import Batch

    r, l = (featurize(partners[k]) for k in "rl")
    rot, t = random_rotation(torch.Generator().manual_seed(4)), torch.tensor([3.0, -9.0, 20.0])
    pose = (random_rotation(torch.Generator().manual_seed(5)), torch.tensor([1.0, 2.0, -2.0]))
    a = decoy_graph(r, l, pose, interface=True, contacts=True)
    b = decoy_graph(moved(r, rot, t), moved(moved(l, *pose), rot, t), None, interface=True, contacts=True)
    plain = decoy_graph(r, l, pose, interface=True)
    assert a.edge_s.shape[1] == plain.edge_s.shape[1] + CONTACT_DIM
    torch.testing.assert_close(a.edge_s[:, : plain.edge_s.shape[1]], plain.edge_s)
    torch.testing.assert_close(a.edge_s, b.edge_s, atol=1e-4, rtol=1e-4)
    from intergraph.protein.tasks.quality.run import QualityRun, QualitySpec

    cfg = QualityRun()
    cfg.model.encoder, cfg.model.out_dim, cfg.quality.interface, cfg.quality.contacts = "egnn", 16, True, True
    model = QualitySpec().build_model(cfg, None)            # the run's model takes the wider edges
    out = model(Batch.from_data_list([a, b]))
    out.sum().backward()
    assert out.shape == (2, 2) and model.encoder.encoder.layers[0].phi_e[0].weight.grad.abs().sum() > 0


def test_perturbation_decoys_are_seeded_labelled_and_clash_free(partners, tmp_path):
    a = perturbation_decoys("7CEI", partners["r"], partners["l"], 6, seed=3)
    b = perturbation_decoys("7CEI", partners["r"], partners["l"], 6, seed=3)
    assert [d.row() for d in a] == [d.row() for d in b]
    dockq = np.array([d.labels["dockq"] for d in a])
    assert ((0 <= dockq) & (dockq <= 1)).all() and dockq.std() > 0.1
    rec = ca_coords(partners["r"])
    for d in a:
        lig = ca_coords(partners["l"]) @ d.rotation.T + d.translation
        assert np.linalg.norm(lig[:, None] - rec[None], axis=-1).min() >= 3.0
    write_decoys(a, tmp_path / "d.csv")
    assert [d.row() for d in read_decoys(tmp_path / "d.csv")] == [d.row() for d in a]
    native = perturbation_decoys("7CEI", partners["r"], partners["l"], 1, max_angle=0.0, max_shift=0.0)[0]
    assert native.labels["dockq"] == pytest.approx(1.0) and native.labels["irmsd"] == pytest.approx(0.0, abs=1e-3)


def test_surface_decoys_touch_or_penetrate_the_receptor_at_random_sites(partners):
    a = surface_decoys("7CEI", partners["r"], partners["l"], 6, seed=1)
    assert [d.row() for d in a] == [d.row() for d in surface_decoys("7CEI", partners["r"], partners["l"], 6, seed=1)]
    assert [d.row() for d in a] != [d.row() for d in surface_decoys("7CEI", partners["r"], partners["l"], 6, seed=2)]
    rec, lig = ca_coords(partners["r"]), ca_coords(partners["l"])

    def contacts(d):
        dist = np.linalg.norm((lig @ d.rotation.T + d.translation)[:, None] - rec[None], axis=-1)
        return dist.min(), int((dist < 3.0).sum())

    for d in a:
        assert np.allclose(d.rotation @ d.rotation.T, np.eye(3)) and np.linalg.det(d.rotation) == pytest.approx(1)
        closest, clashes = contacts(d)
        assert 4.0 <= closest < 4.5 and clashes == 0  # in contact, clash-free
        assert d.source == "surface" and 0 <= d.labels["dockq"] <= 1
    # random sites: directions spread around the receptor
    centres = np.array([(lig @ d.rotation.T + d.translation).mean(0) - rec.mean(0) for d in a])
    unit = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    assert np.linalg.norm(unit.mean(0)) < 0.8
    # pushed 2-8 Å further: interpenetrating, like EquiDock's predictions
    deep = surface_decoys("7CEI", partners["r"], partners["l"], 6, seed=1, depth=(2.0, 8.0), source="interpenetrating")
    assert all(d.source == "interpenetrating" and d.decoy.startswith("7CEI_interpenetrating_") for d in deep)
    assert all(contacts(d)[0] < 3.0 for d in deep) and sum(contacts(d)[1] for d in deep) > 6


def test_baseline_poses_reproduce_the_file_scores(db5_root):
    """A baseline prediction as a pose of the native ligand gets the labels its files get."""
    root = db5_root / "docking_test"
    ids = ["1AVX", "7CEI"]
    rec = {c: read_structure(root / "complexes" / f"{c}_r_b_COMPLEX.pdb.gz") for c in ids}
    lig = {c: read_structure(root / "complexes" / f"{c}_l_b_COMPLEX.pdb.gz") for c in ids}
    for method in ("hdock", "equidock"):  # HDOCK moved both partners, EquiDock the ligand only
        skipped = []
        decoys = {d.target: d for d in folder_decoys(root / "baselines" / method, method, rec, lig, skipped)}
        assert sorted(decoys) == ids and not skipped
        files = {r["complex"]: r for r in score_folder(root / "baselines" / method, root / "complexes")[0]}
        for c in ids:
            assert decoys[c].labels["dockq"] == pytest.approx(files[c]["dockq"], abs=2e-3), (method, c)


def test_top1_quality_by_hand():
    pred = np.array([0.9, 0.1, 0.2, 0.8])
    truth = np.array([0.2, 0.7, 0.5, 0.6])
    groups = np.array(["a", "a", "b", "b"])
    assert top1_quality(pred, truth, groups) == pytest.approx((0.2 + 0.6) / 2)


def test_quality_run_end_to_end(db5_root, tmp_path):
    import shutil

    from intergraph.protein.run import DataConfig, ModelConfig, train
    from intergraph.protein.tasks.docking.run import DockingRun
    from intergraph.protein.tasks.quality.run import QualityConfig, QualityRun
    from intergraph.train.config import TrainConfig

    # a docking run: its predictions join the training/validation decoys (one per target) and, from its
    # test_predictions folder (here replaced by EquiDock's files under our names), the test decoys

    dock_cfg = DockingRun(
        data=DataConfig(train_ids=["1QA9", "2SNI"], val_ids=["1NW9"], test_ids=["7CEI"], cache_dir=str(tmp_path / "c")),
        model=ModelConfig(encoder="egnn", layers=1, out_dim=16),
        train=TrainConfig(monitor="val/crmsd_median", mode="min", max_epochs=1, batch_size=2, accelerator="cpu"))
    train(dock_cfg, tmp_path / "dock_run", progress=False, log=lambda m: None)
    docked = tmp_path / "dock_run" / "test_predictions"
    for p in docked.iterdir():
        p.unlink()
    for c in ("1AVX", "7CEI"):
        shutil.copy(db5_root / "docking_test" / "baselines" / "equidock" / f"{c}_l_b_EQUIDOCK.pdb.gz",
                    docked / f"{c}_l_b_INTERGRAPH.pdb.gz")

    # a `protein decoys` folder holding two of the targets (written here from relabelled perturbations)
    from intergraph.protein.db5 import DB5
    from intergraph.protein.tasks.quality.decoys import perturbation_decoys

    db5 = DB5(db5_root)
    for cid, n in (("1QA9", 2), ("7CEI", 4)):
        made = perturbation_decoys(cid, db5.structure(cid, "r", "b"), db5.structure(cid, "l", "b"), n, seed=9)
        for k, d in enumerate(made):
            d.source, d.decoy, d.score = "search", f"{cid}_search_{k}", 10.0 - k
        write_decoys(made, tmp_path / "searched" / "targets" / f"{cid}.csv")
    logged = []
    cfg = QualityRun(
        data=DataConfig(train_ids=["1QA9", "2SNI", "1ATN"], val_ids=["1NW9"], test_ids=["1AVX", "7CEI"],
                        cache_dir=str(tmp_path / "cache")),
        model=ModelConfig(encoder="egnn", layers=1, out_dim=16),
        quality=QualityConfig(decoys_per_target=3, test_decoys_per_target=3, docking_run=str(docked.parent),
                              search_decoys=str(tmp_path / "searched")),
        train=TrainConfig(monitor="val/spearman", mode="max", max_epochs=2, batch_size=4, lr=1e-3, accelerator="cpu"))
    result = train(cfg, tmp_path / "run", progress=False, log=logged.append)
    # 1ATN is an external (HADDOCK) target: held out of training
    assert result["test_by_source"]["perturbation"]["decoys"] == 6
    # the search decoys join their targets' splits; the targets the folder lacks are named
    assert result["test_by_source"]["search"]["decoys"] == 4
    assert any(m.startswith("train: 1 of 2 targets have no search decoys") and m.endswith(": 2SNI") for m in logged)
    train_decoys = [d for p in (tmp_path / "cache" / "qa").glob("train-*.csv") for d in read_decoys(p)]
    assert sorted(d.decoy for d in train_decoys if d.source == "intergraph") == ["1QA9_intergraph", "2SNI_intergraph"]
    assert result["test_by_source"]["docking methods"]["decoys"] == 14  # (six baselines + ours) x two targets
    assert -1 <= result["test"]["spearman"] <= 1 and 0 <= result["test"]["top1_dockq"] <= result["test"]["best_dockq"]
    assert "external" in result and (tmp_path / "run" / "predictions_external.csv").exists()
    rows = (tmp_path / "run" / "predictions_test.csv").read_text().splitlines()
    assert len(rows) == 1 + 24 and any("_intergraph," in r for r in rows)
    val = (tmp_path / "run" / "predictions_val.csv").read_text().splitlines()
    assert len(val) > 1 and all(r.startswith("1NW9,1NW9_") for r in val[1:])     # the validation target's decoys
    shown = runner.invoke(app, ["protein", "evaluate", str(tmp_path / "run")])
    assert shown.exit_code == 0, shown.output
    assert f"spearman {result['test']['spearman']:.4f}" in shown.output
    # evaluated again on the search decoys alone: --set changes the evaluation's data, not the model
    shown = runner.invoke(app, ["protein", "evaluate", str(tmp_path / "run"), "--out", str(tmp_path / "ev"),
                                "--set", "quality.test_decoys_per_target=0", "--set", "quality.baselines=false",
                                "--set", "quality.docking_run=", "--set", "quality.external=false"])
    assert shown.exit_code == 0, shown.output
    rows = (tmp_path / "ev" / "predictions_test.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and all(",7CEI_search_" in r for r in rows[1:])
    first = (tmp_path / "run" / "predictions_test.csv").read_text().splitlines()
    kept = {r.split(",")[1]: r.split(",")[3] for r in first}
    assert all(kept[r.split(",")[1]] == r.split(",")[3] for r in rows[1:])     # the same model's predictions
    items = (tmp_path / "run" / "items.csv").read_text().splitlines()
    assert items[0] == "item,decoys,spearman,top1_dockq,best_dockq,loss,success@1,success@5,success@10"
    assert len(items) == 3
    # compare's notes: the baselines on the test targets' search decoys (7CEI), flagged as other decoys
    from intergraph.protein.tasks.quality.run import QualitySpec

    notes = QualitySpec().notes([{"run": str(tmp_path / "run"), "seed": 0}])
    assert "not on the same decoys" in notes[0]
    assert {line.split(" (")[0] for line in notes[4:]} == {"| search score", "| residue contacts",
                                                          "| buried surface area", "| random order"}
    # the run ranks a folder of HADDOCK models, scored against their native
    qa = data_root_of(db5_root) / "qa_decoys" / "1AK4"
    res = runner.invoke(app, ["protein", "predict", "--model", str(tmp_path / "run"), "--models", str(qa / "decoys"),
                              "--native", str(next((qa / "native").iterdir())), "--receptor-chains", "C",
                              "--ligand-chains", "D", "--out", str(tmp_path / "ranked")])
    assert res.exit_code == 0, res.output
    ranking = list(csv.DictReader(open(tmp_path / "ranked" / "ranking.csv")))
    assert [int(r["rank"]) for r in ranking] == [1, 2, 3, 4, 5]
    pred = [float(r["predicted_dockq"]) for r in ranking]
    assert pred == sorted(pred, reverse=True) and all(0 <= p <= 1 for p in pred)
    labels = {row.split(",")[0]: row for row in (qa / "labels" / "labels.csv").read_text().splitlines()[1:]}
    for r in ranking:  # the labels computed against the native are the shipped ones
        decoy = r["model"].split(".pdb")[0]
        assert abs(float(r["fnat"]) - float(labels[decoy].split(",")[1])) < 1e-3
    many = runner.invoke(app, ["protein", "predict", "--model", str(tmp_path / "run"), "--models", str(qa / "decoys"),
                               "--out", str(tmp_path / "x")])
    assert many.exit_code == 0  # two-chain models split into the larger (receptor) and the other chain


def data_root_of(db5_root):
    return db5_root.parent


def test_target_items_rank_each_target_by_prediction():
    from intergraph.protein.tasks.quality.run import target_items

    cat = {"target": np.array(["a"] * 6 + ["b"] * 3),
           "pred_dockq": np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]),
           "dockq": np.array([0.1, 0.05, 0.3, 0.0, 0.6, 0.2, 0.1, 0.2, 0.15])}
    a, b = target_items(cat)
    assert a["top1_dockq"] == 0.1 and a["best_dockq"] == 0.6 and a["loss"] == pytest.approx(0.5)
    assert (a["success@1"], a["success@5"], a["success@10"]) == (0.0, 1.0, 1.0)   # 0.3 ranks third
    # rank differences (3, 3, -1, 2, -4, -3): 1 - 6·48 / (6·35); b: (2, -1, -1): 1 - 6·6 / (3·8)
    assert a["spearman"] == pytest.approx(1 - 288 / 210) and b["spearman"] == pytest.approx(-0.5)
    assert np.isnan(b["success@1"]) and b["loss"] == pytest.approx(0.1)     # b has no acceptable decoy at all
