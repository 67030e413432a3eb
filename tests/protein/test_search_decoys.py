"""Docking decoys from the global search (`protein decoys`): sampled ranks, the three sources and their labels,
the per-target files (round trip of the score column), resuming, skipping a bad target, refusing another
configuration; the reference-free baselines against their definitions computed in full; the seeded sample of
each target's search poses a QA run keeps; unbound inputs: the native place of the unbound files, their decoys'
labels against the bound complex, and their graphs in a QA run."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.errors import InputError
from intergraph.protein.tasks.quality import search_decoys
from intergraph.protein.tasks.quality.decoys import read_decoys, write_decoys
from intergraph.protein.tasks.quality.search_decoys import SOURCES, SearchDecoyConfig, build, sample_ranks

runner = CliRunner()


def test_sample_ranks_split_between_the_best_quarter_and_the_rest():
    # 20 poses: best quarter = ranks 0-4 (3 of 6 asked), the rest 5-19 (3 evenly spaced)
    np.testing.assert_array_equal(sample_ranks(20, 6), [0, 2, 4, 5, 12, 19])
    np.testing.assert_array_equal(sample_ranks(8, 100), np.arange(8))       # fewer poses than asked: all
    assert len(sample_ranks(8, 0)) == 0 and len(sample_ranks(1, 3)) == 1


@pytest.fixture(scope="module")
def decoy_folder(db5_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("decoys") / "d"
    res = runner.invoke(app, ["protein", "decoys", "--out", str(out), "--data", str(db5_root), "--ids", "7CEI",
                              "--step", "60", "--sampled", "12", "--heads", "3"])
    assert res.exit_code == 0, res.output
    return out


def test_decoys_of_a_target_hold_heads_score_range_and_the_native_funnel(decoy_folder):
    decoys = read_decoys(decoy_folder / "targets" / "7CEI.csv")
    by = {s: [d for d in decoys if d.source == s] for s in SOURCES}
    assert 1 <= len(by["search-head"]) <= 6 and len(by["search"]) == 12 and len(by["near-native"]) > 3
    assert len({d.decoy for d in decoys}) == len(decoys)
    scores = [d.score for d in by["search"]]
    assert scores == sorted(scores, reverse=True) and np.isfinite(scores).all()
    # the funnel starts at the native rotation (its best translation within 4 Å: high quality) and spreads over
    # the rotations within a step (60° here); the sampled search poses are mostly wrong
    near = np.array([d.labels["dockq"] for d in by["near-native"]])
    assert near[0] >= 0.8 and (near >= 0.23).sum() >= 2
    assert np.median([d.labels["dockq"] for d in by["search"]]) < 0.23 < near.max()
    for d in decoys:
        np.testing.assert_allclose(d.rotation @ d.rotation.T, np.eye(3), atol=1e-6)
    summary = json.loads((decoy_folder / "summary.json").read_text())
    assert summary["targets"]["7CEI"]["near-native"]["decoys"] == len(by["near-native"])
    assert summary["skipped"] == [] and "--ids 7CEI" in (decoy_folder / "command.txt").read_text()


def test_decoy_files_round_trip_with_their_search_score(decoy_folder, tmp_path):
    decoys = read_decoys(decoy_folder / "targets" / "7CEI.csv")
    write_decoys(decoys, tmp_path / "x.csv")
    again = read_decoys(tmp_path / "x.csv")
    assert [d.row() for d in again] == [d.row() for d in decoys]
    assert all(np.isfinite(d.score) for d in again) and {d.form for d in again} == {"b"}
    # a file written before decoys had a form (no such column) reads as bound
    rows = list(csv.DictReader(open(tmp_path / "x.csv")))
    with open(tmp_path / "old.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[k for k in rows[0] if k != "form"])
        w.writeheader()
        w.writerows({k: v for k, v in r.items() if k != "form"} for r in rows)
    assert [d.row() for d in read_decoys(tmp_path / "old.csv")] == [d.row() for d in decoys]


def test_build_resumes_skips_a_bad_target_and_refuses_another_configuration(decoy_folder, monkeypatch, tmp_path):
    cfg = SearchDecoyConfig(step=60, sampled=12, heads=3)
    calls = []

    def fake(cid, rec, lig, cfg, table, native):
        calls.append(cid)
        raise InputError(f"{cid}: no usable residue")

    monkeypatch.setattr(search_decoys, "target_decoys", fake)
    # the finished target is read back, the bad one is skipped and reported, nothing done is lost
    target = {"7CEI": lambda: (None, None), "BAD1": lambda: (None, None)}
    with pytest.raises(InputError, match="another configuration"):
        build(target, cfg, decoy_folder, progress=False, log=lambda m: None)
    out = tmp_path / "copy"
    (out / "targets").mkdir(parents=True)
    (out / "targets" / "7CEI.csv").write_bytes((decoy_folder / "targets" / "7CEI.csv").read_bytes())
    got, skipped = build(target, cfg, out, progress=False, log=lambda m: None)
    assert calls == ["BAD1"] and list(got) == ["7CEI"] and skipped == [("BAD1", "BAD1: no usable residue")]
    assert len(got["7CEI"]) == len(read_decoys(decoy_folder / "targets" / "7CEI.csv"))
    assert json.loads((out / "summary.json").read_text())["skipped"] == [["BAD1", "BAD1: no usable residue"]]


def test_baselines_equal_their_definitions_computed_in_full(db5_root):
    import biotite.structure as bs

    from intergraph.protein.io import read_structure
    from intergraph.protein.tasks.quality.baselines import PoseScorer, _heavy

    folder = db5_root / "structures"
    rec, lig = (read_structure(folder / f"7CEI_{r}_b.pdb.gz") for r in "rl")
    scorer = PoseScorer(rec, lig, points=100)
    a, b = _heavy(rec), _heavy(lig)
    rot = np.array([[1.0, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]])
    for r, t in ((np.eye(3), np.zeros(3)), (rot, np.array([1.5, -2.0, 0.5]))):
        moved = b["coord"] @ r.T + t

        def area(parts):
            arr = bs.AtomArray(sum(len(p["coord"]) for p, _ in parts))
            arr.coord = np.concatenate([c for _, c in parts]).astype(np.float32)
            for k in ("res_name", "atom_name", "element"):
                setattr(arr, k, np.concatenate([p[k] for p, _ in parts]))
            radius = np.concatenate([p["radius"] for p, _ in parts])
            return np.nansum(bs.sasa(arr, point_number=100, vdw_radii=radius, ignore_ions=False))

        full = area([(a, a["coord"])]) + area([(b, moved)]) - area([(a, a["coord"]), (b, moved)])
        assert full > 500
        assert scorer.buried_area(r, t) == pytest.approx(full, rel=1e-4)
        d = np.linalg.norm(moved[:, None] - a["coord"][None], axis=-1) < 5.0
        li, ri = np.nonzero(d)
        assert scorer.contacts(r, t) == len(set(zip(b["residue"][li], a["residue"][ri]))) > 10
    assert scorer.buried_area(np.eye(3), np.array([200.0, 0, 0])) == 0.0 == scorer.contacts(np.eye(3), [200.0, 0, 0])


def test_decoy_folder_tables_the_baselines_and_keeps_their_scores(decoy_folder):
    table = (decoy_folder / "baselines.md").read_text()
    for name in ("search score", "residue contacts", "buried surface area", "random order"):
        assert f"| {name} (1) |" in table
    with open(decoy_folder / "baselines" / "7CEI.csv") as f:
        rows = list(csv.DictReader(f))
    decoys = read_decoys(decoy_folder / "targets" / "7CEI.csv")
    assert [r["decoy"] for r in rows] == [d.decoy for d in decoys]
    assert [float(r["search score"]) for r in rows] == pytest.approx([d.score for d in decoys], rel=1e-5)


def test_a_qa_run_keeps_a_seeded_sample_of_each_targets_search_poses(decoy_folder, tmp_path):
    from intergraph.protein.tasks.quality.run import QualityConfig, kept, searched

    folder = str(decoy_folder)
    whole = searched(folder, "train", ["7CEI"])
    pool = {d.decoy for d in whole if d.source == "search"}
    others = sorted(d.decoy for d in whole if d.source != "search")
    assert len(pool) == 12 and others
    draws = [searched(folder, "train", ["7CEI"], sampled=5, seed=s) for s in range(4)]
    for got in draws:      # five search poses drawn from the pool; heads and near-natives all kept
        assert len({d.decoy for d in got if d.source == "search"} & pool) == 5
        assert sorted(d.decoy for d in got if d.source != "search") == others
    again = searched(folder, "train", ["7CEI"], sampled=5, seed=0)
    assert [d.decoy for d in again] == [d.decoy for d in draws[0]]                  # the seed fixes the draw
    assert len({tuple(d.decoy for d in got) for got in draws}) > 1                   # and other seeds differ
    assert len(searched(folder, "train", ["7CEI"], sampled=50)) == len(whole)       # more than the pool: all
    q = QualityConfig(search_sampled=5, decoy_seed=3)
    assert kept(q, "val") == (5, 3) and kept(q, "test") == (0, 3)                    # the test set stays whole


def _rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_native_motion_undoes_moves_of_either_partner(db5_root):
    from intergraph.protein.db5 import DB5
    from intergraph.protein.tasks.quality.search_decoys import native_motion

    db5 = DB5(db5_root)
    rec, lig = db5.structure("7CEI", "r", "b"), db5.structure("7CEI", "l", "b")
    r, t = native_motion(rec, lig, rec, lig)
    np.testing.assert_allclose(r, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(t, 0, atol=1e-4)
    # receptor file moved by N, ligand file by M: the native place of the ligand file is N M⁻¹
    (rn, tn), (rm, tm) = (_rotation(1), np.array([5.0, -3, 8])), (_rotation(2), np.array([-20.0, 4, 1]))
    r, t = native_motion(rec.moved(rn, tn), lig.moved(rm, tm), rec, lig)
    np.testing.assert_allclose(r, rn @ rm.T, atol=1e-5)
    np.testing.assert_allclose(t, tn - rn @ rm.T @ tm, atol=1e-3)


def test_body_pose_from_a_file_motion_inverts_to_original_and_gives_the_native_pose(db5_root):
    import torch

    from intergraph.graph.rigid import kabsch
    from intergraph.protein.db5 import DB5
    from intergraph.protein.tasks.docking.grids import Body

    db5 = DB5(db5_root)
    rec = Body.from_structure(db5.structure("7CEI", "r", "b"))
    lig = Body.from_structure(db5.structure("7CEI", "l", "b"))
    # the native pose fitted atom for atom: the ligand's file coordinates in the receptor body's frame
    r0, t0 = kabsch(lig.atoms, (lig.atoms @ lig.axes + lig.center - rec.center) @ rec.axes.T)
    r, t = lig.from_original(torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), rec)
    torch.testing.assert_close(r, r0.to(r.dtype), atol=1e-5, rtol=0)
    torch.testing.assert_close(t, t0.to(t.dtype), atol=1e-3, rtol=0)
    rot, shift = torch.as_tensor(_rotation(3)), torch.tensor([3.0, 1.0, -7.0], dtype=torch.float64)
    back = lig.from_original(*lig.to_original(rot, shift, rec), rec)
    torch.testing.assert_close(back[0], rot, atol=1e-10, rtol=0)
    torch.testing.assert_close(back[1], shift, atol=1e-8, rtol=0)


@pytest.fixture(scope="module")
def unbound_folder(db5_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("decoys") / "u"
    res = runner.invoke(app, ["protein", "decoys", "--out", str(out), "--data", str(db5_root), "--ids", "7CEI",
                              "--step", "60", "--sampled", "12", "--heads", "3", "--inputs", "unbound"])
    assert res.exit_code == 0, res.output
    return out


def test_unbound_decoys_pose_the_unbound_files_labelled_against_the_bound_complex(db5_root, unbound_folder):
    from intergraph.protein.db5 import DB5
    from intergraph.protein.docking_metrics import capri
    from intergraph.protein.tasks.quality.search_decoys import native_motion

    decoys = read_decoys(unbound_folder / "targets" / "7CEI.csv")
    assert {d.form for d in decoys} == {"u"} and all(d.decoy.startswith("7CEI_u_") for d in decoys)
    assert {d.source for d in decoys} == set(SOURCES)
    db5 = DB5(db5_root)
    rec_u, lig_u, rec_b, lig_b = (db5.structure("7CEI", r, f) for f in "ub" for r in "rl")
    for d in decoys[::7]:      # labels: the posed unbound ligand against the bound complex
        c = capri(lig_u.moved(d.rotation, d.translation), rec_u, lig_b, rec_b)
        assert d.labels["dockq"] == pytest.approx(c["dockq"], abs=1e-6)
    # the funnel surrounds the unbound partners' native place: its best decoy is close to that place's labels
    at_native = capri(lig_u.moved(*native_motion(rec_u, lig_u, rec_b, lig_b)), rec_u, lig_b, rec_b)["dockq"]
    funnel = max(d.labels["dockq"] for d in decoys if d.source == "near-native")
    assert at_native > 0.49 and funnel > 0.23 and funnel <= at_native + 0.1
    cfg = json.loads((unbound_folder / "config.json").read_text())
    assert cfg["decoys"]["inputs"] == "unbound"
    # another form of inputs is another configuration: refused
    res = runner.invoke(app, ["protein", "decoys", "--out", str(unbound_folder), "--data", str(db5_root),
                              "--ids", "7CEI", "--step", "60", "--sampled", "12", "--heads", "3"])
    assert res.exit_code != 0 and "inputs" in res.output


def test_a_qa_run_poses_unbound_decoys_on_the_unbound_partners(unbound_folder, tmp_path):
    import torch

    from intergraph.protein.run import DataConfig, complex_set
    from intergraph.protein.tasks.quality.run import QualityConfig, QualityRun, QualitySpec

    cfg = QualityRun(data=DataConfig(train_ids=["1QA9"], val_ids=["1NW9"], test_ids=["7CEI"],
                                     cache_dir=str(tmp_path / "cache")),
                     quality=QualityConfig(decoys_per_target=1, surface_per_target=0, clash_per_target=0,
                                           test_decoys_per_target=0, baselines=False, external=False,
                                           search_decoys=str(unbound_folder)))
    _, _, sets = QualitySpec().data(cfg, log=lambda m: None)
    test = sets["test"]
    assert len(test) == len(read_decoys(unbound_folder / "targets" / "7CEI.csv"))
    k = 5
    d, g = test.decoys[k], test[k]
    assert d.form == "u"
    unbound = complex_set(cfg.data, form="u")["7CEI"]
    want = unbound.ligand.pos.double() @ torch.as_tensor(d.rotation).T + torch.as_tensor(d.translation)
    torch.testing.assert_close(g.pos[g.partner == 1].double(), want, atol=1e-3, rtol=0)
    torch.testing.assert_close(g.pos[g.partner == 0], unbound.receptor.pos)
    assert g.y[0, 0].item() == pytest.approx(d.labels["dockq"], abs=1e-6)


def _truth_and_reversed():
    """Three targets' decoys (DockQ by hand) and two rankers: the truth and its reverse."""
    from intergraph.protein.tasks.quality.decoys import Decoy

    q = {"T1": [0.9, 0.1, 0.3, 0.05], "T2": [0.6, 0.2, 0.1, 0.0], "T3": [0.1, 0.15, 0.05, 0.2]}
    decoys = {t: [Decoy(t, f"{t}_{k}", "search", np.eye(3), np.zeros(3),
                        {"fnat": 0.0, "irmsd": 0.0, "lrmsd": 0.0, "dockq": v}) for k, v in enumerate(vs)]
              for t, vs in q.items()}
    scores = {t: {"truth": np.array(vs), "reversed": -np.array(vs)} for t, vs in q.items()}
    return decoys, scores


def test_paired_table_of_two_rankers_by_hand():
    from intergraph.protein.tasks.quality.baselines import paired_table

    decoys, scores = _truth_and_reversed()
    lines = paired_table(decoys, scores, [("truth", "reversed"), ("truth", "truth")],
                         keys=("spearman", "top1_dockq", "success@1"))
    assert lines[0] == "| A − B (targets) | Δ spearman | Δ top1_dockq | Δ success@1 |"
    # Spearman 1 vs −1 everywhere; top-1 DockQ best − worst per target: 0.85, 0.6, 0.15; success@1 only on the
    # targets with an acceptable decoy (T1, T2): 1 − 0
    assert lines[2] == "| truth − reversed (3) | +2.000 [+2.000, +2.000] | +0.533 [+0.150, +0.850] | " \
                       "+1.000 [+1.000, +1.000] |"
    assert lines[3] == "| truth − truth (3) | +0.000 [+0.000, +0.000] | +0.000 [+0.000, +0.000] | " \
                       "+0.000 [+0.000, +0.000] |"


def test_seed_table_spreads_over_seeds_and_pairs_by_hand():
    from intergraph.protein.tasks.quality.baselines import seed_table

    decoys, scores = _truth_and_reversed()
    arms = {"mixed": {0: "truth", 1: "reversed"}, "perfect": {0: "truth", 1: "truth", 2: "truth"}}
    lines = seed_table(decoys, scores, arms, reference="truth", keys=("spearman", "top1_dockq"))
    assert lines[0] == "| arm (seeds, targets) | spearman | top1_dockq |"
    # seed 0 ranks perfectly (Spearman 1; top-1 DockQ 0.9, 0.6, 0.2: mean 0.567), seed 1 in reverse (−1; 0.05,
    # 0, 0.05: mean 0.033); per target the seed-means are 0 (Spearman) and 0.475, 0.3, 0.125 (top-1 DockQ)
    assert lines[2].startswith("| mixed (2, 3) | 0.000 ± 1.000 [0.000, 0.000] | 0.300 ± 0.267 [")
    assert lines[3] == "| perfect (3, 3) | 1.000 ± 0.000 [1.000, 1.000] | 0.567 ± 0.000 [0.200, 0.900] |"
    pairs = lines[lines.index("") + 3:]
    # mixed − truth per target, mean over seeds: Spearman (0 + −2) / 2 = −1; top-1 DockQ −(0.85, 0.6, 0.15) / 2
    assert pairs[0].startswith("| mixed − truth (3) | -1.000 [-1.000, -1.000] | -0.267 [")
    assert pairs[1] == "| perfect − truth (3) | +0.000 [+0.000, +0.000] | +0.000 [+0.000, +0.000] |"
    assert pairs[2].startswith("| perfect − mixed (3) | +1.000 [+1.000, +1.000] | +0.267 [")


def test_fused_ranking_and_its_weight_chosen_by_hand():
    from intergraph.protein.tasks.quality.baselines import fused, fusion_weight

    # z-scores: (−1, 1) and (1, −1) cancel at w = 1, the search score wins above it; a constant score adds nothing
    np.testing.assert_allclose(fused([0.0, 2.0], [5.0, 3.0], 0.5), [-0.5, 0.5])
    np.testing.assert_allclose(fused([0.0, 2.0], [5.0, 3.0], 2.0), [1.0, -1.0])
    np.testing.assert_allclose(fused([1.0, 3.0, 2.0], [7.0, 7.0, 7.0], 4.0), [-1.2247449, 1.2247449, 0.0])
    decoys, _ = _truth_and_reversed()
    # the QA prediction is reversed truth and the search score is the truth: every weight > 1 ranks perfectly,
    # the smallest of them is chosen
    for t, ds in decoys.items():
        for d in ds:
            d.score = d.labels["dockq"]
    predicted = {d.decoy: -d.labels["dockq"] for ds in decoys.values() for d in ds}
    w, means = fusion_weight(decoys, predicted, weights=(0.0, 0.5, 2.0, 4.0))
    assert w == 2.0 and means[0.0] == -1.0 and means[2.0] == means[4.0] == 1.0
