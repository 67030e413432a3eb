"""Docking metrics: Kabsch by hand, RMSD invariances, EquiDock's interface pair weighting, and the published
medians of the six baselines shipped with the DB5 test protocol."""
import csv
from pathlib import Path

import numpy as np
import pytest

from intergraph.protein.docking_metrics import (
    interface_pairs,
    kabsch,
    score_complex,
    score_files,
    summarize,
    superposed_rmsd,
)
from tests.geometry import random_orthogonal


def test_kabsch_recovers_a_rigid_motion_and_never_reflects():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3)) * 5
    r, t = random_orthogonal(1), np.array([3.0, -2.0, 10.0])
    r_hat, t_hat = kabsch(x, x @ r.T + t)
    np.testing.assert_allclose(r_hat, r, atol=1e-10)
    np.testing.assert_allclose(t_hat, t, atol=1e-9)
    mirrored = x * np.array([-1.0, 1.0, 1.0])
    r_m, _ = kabsch(x, mirrored)
    assert np.linalg.det(r_m) == pytest.approx(1.0)
    assert superposed_rmsd(x, mirrored) > 0.1  # a mirror image is not superposable
    with pytest.raises(ValueError, match="paired"):
        kabsch(x, x[:5])


def test_rmsd_by_hand_and_invariance_to_the_predicted_pose():
    a = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    b = a.copy()
    b[0] += [0.0, 0.0, 0.4]  # not a rigid motion: the superposed RMSD is below the raw one
    raw = np.sqrt(0.16 / 4)
    assert superposed_rmsd(b, a) < raw
    r, t = random_orthogonal(2), np.array([1.0, 2.0, 3.0])
    assert superposed_rmsd(b @ r.T + t, a) == pytest.approx(superposed_rmsd(b, a), abs=1e-9)


def test_interface_pairs_weight_residues_by_their_partners():
    lig = np.array([[0.0, 0, 0], [100, 0, 0]])
    rec = np.array([[5.0, 0, 0], [0, 5, 0], [50, 50, 50]])
    li, ri = interface_pairs(lig, rec, 8.0)
    assert li.tolist() == [0, 0] and ri.tolist() == [0, 1]  # ligand residue 0 counts twice
    # a prediction off by 1 Å on the interface ligand residue only
    lig_pred = lig + np.array([[0.0, 0, 1], [0, 0, 0]])
    s = score_complex(lig_pred, rec, lig, rec)
    expected = superposed_rmsd(np.stack([lig_pred[0], lig_pred[0], rec[0], rec[1]]),
                               np.stack([lig[0], lig[0], rec[0], rec[1]]))
    assert s.irmsd == pytest.approx(expected) and s.interface_pairs == 2
    with pytest.raises(ValueError, match="ligand: 1 predicted"):
        score_complex(lig_pred[:1], rec, lig, rec)


def test_summary():
    s = summarize([1.0, 2.0, 10.0])
    assert s == {"median": 2.0, "mean": pytest.approx(13 / 3), "std": pytest.approx(np.std([1, 2, 10])), "n": 3}


# published medians (CRMSD, IRMSD) of the DB5 test set, EquiDock paper Table 1 and the data README
PUBLISHED = {"equidock": (14.14, 11.97), "hdock": (0.30, 0.24), "cluspro": (3.38, 2.32),
             "equidock_no_clashes": (15.96, None), "attract": (9.55, None), "patchdock": (18.26, None)}


@pytest.mark.parametrize("method", sorted(PUBLISHED))
def test_baselines_reproduce_the_published_medians(db5_root, method):
    root = db5_root / "docking_test"
    folder = root / "baselines" / method
    crmsd, irmsd = [], []
    for lig in sorted(folder.glob("*_l_b_*.pdb.gz")):
        cid = lig.name.split("_")[0]
        rec = folder / lig.name.replace("_l_b_", "_r_b_")  # methods that moved the receptor too
        true_l, true_r = (root / "complexes" / f"{cid}_{r}_b_COMPLEX.pdb.gz" for r in "lr")
        s = score_files(lig, rec if rec.exists() else true_r, true_l, true_r)
        crmsd.append(s.crmsd)
        irmsd.append(s.irmsd)
    assert len(crmsd) == 25
    c_med, i_med = PUBLISHED[method]
    assert round(summarize(crmsd)["median"], 2) == c_med
    if i_med is not None:
        assert round(summarize(irmsd)["median"], 2) == i_med


def _decoy_files(root, method, cid):
    folder = root / "baselines" / method
    lig = next(folder.glob(f"{cid}_l_b_*.pdb.gz"))
    rec = lig.with_name(lig.name.replace("_l_b_", "_r_b_"))
    return lig, rec if rec.exists() else root / "complexes" / f"{cid}_r_b_COMPLEX.pdb.gz"


def test_dockq_equals_the_reference_package_on_the_shipped_baselines(db5_root):
    """tests/protein/data/dockq_reference.json: the `dockq` package (2.1.3) on 102 decoys (six methods, the
    17 test complexes whose partners are single chains), written by scripts/dockq_reference.py."""
    import json

    from intergraph.protein.docking_metrics import capri
    from intergraph.protein.io import read_structure

    root = db5_root / "docking_test"
    reference = json.loads((Path(__file__).parent / "data" / "dockq_reference.json").read_text())
    assert len(reference) == 102
    for key, ref in reference.items():
        method, cid = key.split("/")
        lig, rec = _decoy_files(root, method, cid)
        ours = capri(read_structure(lig), read_structure(rec),
                     *(read_structure(root / "complexes" / f"{cid}_{r}_b_COMPLEX.pdb.gz") for r in "lr"))
        assert ours["irmsd"] == pytest.approx(ref["iRMSD"], abs=1e-4), key
        assert ours["lrmsd"] == pytest.approx(ref["LRMSD"], abs=1e-3), key
        assert ours["native_contacts"] == ref["nat_total"], key
        if method == "attract":
            # ATTRACT's files have no element column and carry polar hydrogens (HN, ...): the package drops
            # hydrogens only by that column, so it counts them as contacts; we never do
            assert ours["fnat"] <= ref["fnat"] + 1e-12, key
            continue
        assert ours["fnat"] == pytest.approx(ref["fnat"], abs=1e-12), key
        assert ours["dockq"] == pytest.approx(ref["DockQ"], abs=1e-5), key


def test_dockq_by_hand_for_a_perfect_and_a_shifted_model(db5_root):
    from intergraph.protein.docking_metrics import capri
    from intergraph.protein.io import read_structure

    lig = read_structure(db5_root / "docking_test" / "complexes" / "7CEI_l_b_COMPLEX.pdb.gz")
    rec = read_structure(db5_root / "docking_test" / "complexes" / "7CEI_r_b_COMPLEX.pdb.gz")
    perfect = capri(lig, rec, lig, rec)
    assert perfect["fnat"] == 1.0 and perfect["irmsd"] < 1e-6 and perfect["lrmsd"] < 1e-6
    assert perfect["dockq"] == pytest.approx(1.0)
    moved = read_structure(db5_root / "docking_test" / "complexes" / "7CEI_l_b_COMPLEX.pdb.gz")
    moved.coord = moved.coord + np.array([30.0, 0.0, 0.0], dtype=moved.coord.dtype)  # ligand pulled away
    far = capri(moved, rec, lig, rec)
    assert far["fnat"] == 0.0 and far["lrmsd"] == pytest.approx(30.0, abs=1e-3)
    assert far["dockq"] == pytest.approx((0 + 1 / (1 + (far["irmsd"] / 1.5) ** 2) + 1 / (1 + (30 / 8.5) ** 2)) / 3)


def test_score_docking_command_scores_a_folder_and_reports_bad_files(db5_root, tmp_path):
    import csv
    import json
    import shutil

    from typer.testing import CliRunner

    from intergraph.cli import app

    root = db5_root / "docking_test"
    preds = tmp_path / "preds"
    preds.mkdir()
    for cid in ("1AVX", "7CEI", "2SNI"):
        for role in "lr":  # HDOCK moved both partners
            shutil.copy(root / "baselines" / "hdock" / f"{cid}_{role}_b_HDOCK.pdb.gz", preds)
    (preds / "9XYZ_l_b_HDOCK.pdb").write_text("not a structure\n")
    result = CliRunner().invoke(app, ["protein", "score-docking", str(preds), "--truth", str(root / "complexes"),
                                      "--out", str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    assert "skipped 9XYZ_l_b_HDOCK.pdb" in result.output
    rows = {r["complex"]: r for r in csv.DictReader(open(tmp_path / "scores.csv"))}
    assert sorted(rows) == ["1AVX", "2SNI", "7CEI"]
    reference = json.loads((Path(__file__).parent / "data" / "dockq_reference.json").read_text())
    for cid, row in rows.items():
        assert float(row["dockq"]) == pytest.approx(reference[f"hdock/{cid}"]["DockQ"], abs=1e-5)
    summary = json.loads((tmp_path / "scores.json").read_text())
    assert summary["summary"]["crmsd"]["n"] == 3 and len(summary["skipped"]) == 1


def test_residue_distances_by_hand():
    from intergraph.protein.docking_metrics import Partner, residue_distances

    a = Partner("AA", np.array([[0.0, 0, 0], [1, 0, 0], [20, 0, 0]]), np.array([0, 2, 3]), np.zeros((2, 4, 3)))
    b = Partner("AG", np.array([[0.0, 0, 0], [3, 0, 0], [26, 0, 0]]), np.array([0, 2, 3]), np.zeros((2, 4, 3)))
    d = residue_distances(a, b, cutoff=10.0)
    assert d[0, 0] == 0.0  # touching atoms still count (distance exactly 0)
    assert d[1, 1] == 6.0 and np.isinf(d[0, 1]) and np.isinf(d[1, 0])  # 17 Å > cutoff -> inf


QA_PARTNERS = {"1ATN": ("A", "B"), "1AK4": ("C", "D")}  # (receptor, ligand) chains, per the data README


def test_capri_reproduces_the_haddock_decoy_labels(data_root):
    """The 15 labelled HADDOCK models of qa_decoys (1ATN's receptor lacks 3 of the native's residues, so the
    partners are paired by sequence alignment): fnat, iRMSD and LRMSD to the labels' 3 decimals."""
    from intergraph.protein.docking_metrics import capri
    from intergraph.protein.io import read_structure

    for target, (rc, lc) in QA_PARTNERS.items():
        folder = data_root / "qa_decoys" / target
        native = read_structure(next((folder / "native").iterdir()))
        rows = list(csv.DictReader(open(folder / "labels" / "labels.csv")))
        for row in rows:
            decoy = read_structure(folder / "decoys" / f"{row['decoy']}.pdb.gz")
            c = capri(decoy.select_chains(lc), decoy.select_chains(rc), native.select_chains(lc),
                      native.select_chains(rc))
            for key in ("fnat", "irmsd", "lrmsd"):
                assert c[key] == pytest.approx(float(row[key]), abs=6e-4), (row["decoy"], key)


def test_capri_refuses_a_model_of_another_protein(db5_root):
    from intergraph.protein.docking_metrics import capri
    from intergraph.protein.io import read_structure

    s = {k: read_structure(db5_root / "structures" / f"{k}.pdb.gz") for k in ("7CEI_l_b", "7CEI_r_b", "1AVX_l_b")}
    with pytest.raises(ValueError, match="ligand.*identity"):
        capri(s["1AVX_l_b"], s["7CEI_r_b"], s["7CEI_l_b"], s["7CEI_r_b"])


def test_select_chains(db5_root):
    from intergraph.protein.io import read_structure, structure_to_pdb
    from intergraph.protein.structure import StructureError

    s = read_structure(db5_root / "structures" / "1AVX_r_b.pdb.gz")
    ids = [c.id for c in s.chains()]
    assert structure_to_pdb(s.select_chains(ids)) == structure_to_pdb(s)
    with pytest.raises(StructureError, match="no chain Z"):
        s.select_chains(["Z"])
