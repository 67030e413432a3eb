"""GDT_TS, TM-score and Cα-lDDT of single-chain models: hand-made cases, invariances, and the shipped CASP13
labels of ``psr_casp13``; ``protein score-models`` on a folder."""
from __future__ import annotations

import csv
import dataclasses
import gzip
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.protein.io import parse_pdb, read_structure
from intergraph.protein.model_scores import pair_residues, score_model, seed_masks, tm_d0

runner = CliRunner()


def helix(n: int, start: int = 1) -> str:
    """Cα-only ideal helix, 1.5 Å rise and 100° per residue."""
    lines = []
    for i in range(n):
        a = np.deg2rad(100.0 * i)
        x, y, z = 2.3 * np.cos(a), 2.3 * np.sin(a), 1.5 * i
        lines.append(f"ATOM  {i + 1:5d}  CA  ALA A{start + i:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00           C\n")
    return "".join(lines)


def moved(text: str, rot: np.ndarray, shift: np.ndarray, displace: dict[int, np.ndarray] | None = None):
    s = parse_pdb(text).moved(rot, shift)
    coord = s.coord.astype(np.float64)
    for i, v in (displace or {}).items():
        coord[i] += v
    return dataclasses.replace(s, coord=coord.astype(np.float32))


def rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_seed_windows():
    assert seed_masks(3).sum(1).tolist() == [3]
    m = seed_masks(40)
    lengths = sorted(set(m.sum(1).tolist()), reverse=True)
    assert lengths == [40, 20, 10, 5]
    assert (m.sum(1) == 10).sum() == len(range(0, 31, 1))  # stride 10 // 8 = 1
    assert (m.sum(1) == 20).sum() == len(range(0, 21, 2))  # stride 20 // 8 = 2
    assert tm_d0(100) == pytest.approx(1.24 * 85 ** (1 / 3) - 1.8) and tm_d0(10) == 0.5


def test_perfect_model_under_a_rigid_motion_scores_one():
    native = parse_pdb(helix(50))
    model = moved(helix(50), rotation(0), np.array([30.0, -4.0, 12.0]))
    s = score_model(model, native)
    assert s["gdt_ts"] == pytest.approx(1.0) and s["tm_score"] == pytest.approx(1.0)
    assert s["lddt"] == pytest.approx(1.0) and np.allclose(s["lddt_per_residue"], 1.0)


def test_one_displaced_residue_by_hand():
    n = 40
    native = parse_pdb(helix(n))
    model = moved(helix(n), rotation(1), np.zeros(3), {n - 1: np.array([3.0, 0.0, 0.0])})
    s = score_model(model, native)
    # 3 Å off: outside the 1 and 2 Å cutoffs, inside 4 and 8 Å
    assert s["gdt_ts"] == pytest.approx((4 * n - 2) / (4 * n), abs=1e-9)
    d0 = tm_d0(n)
    p = pair_residues(model, native)
    assert s["tm_score"] == pytest.approx(((n - 1) + 1 / (1 + (3.0 / d0) ** 2)) / n, abs=2e-3)
    assert len(p.native) == n


def test_missing_residues_count_against_the_model():
    n = 40
    native = parse_pdb(helix(n))
    half = parse_pdb(helix(n // 2))  # residues 1-20 only, exact
    s = score_model(half, native)
    assert s["gdt_ts"] == pytest.approx(0.5) and s["tm_score"] == pytest.approx(0.5)
    # lDDT: pairs with a missing residue are not preserved; the rest are
    per = s["lddt_per_residue"]
    assert np.all(per[n // 2:] < 1.0) and s["lddt"] < 1.0 and s["paired"] == n // 2


def test_pairing_by_sequence_when_the_numbering_differs():
    native = parse_pdb(helix(30))
    renumbered = parse_pdb(helix(30, start=501))
    assert pair_residues(renumbered, native).how == "sequence"
    assert score_model(renumbered, native)["gdt_ts"] == pytest.approx(1.0)
    with pytest.raises(Exception, match="fewer than 3 residues pair"):
        score_model(renumbered, native, by="number")


# models of three targets: a plain one, one with a record repeated verbatim (T0986s2TS354_1), one domain-trimmed
SHIPPED = ["T0949TS043_1", "T0949TS089_1", "T0986s2TS354_1", "T0957s2TS089_1", "T0980s1TS043_1", "T1000TS224_1"]


def shipped_labels(data_root):
    root = data_root / "psr_casp13"
    rows = {r["model"]: r for r in csv.DictReader(open(root / "labels.csv"))}
    return root, rows


def test_scores_equal_the_shipped_casp13_labels(data_root):
    root, rows = shipped_labels(data_root)
    for name in SHIPPED:
        r = rows[name]
        target = root / "targets" / r["target"]
        s = score_model(read_structure(target / "models" / f"{name}.pdb.gz"), read_structure(target / "native.pdb.gz"))
        assert s["lddt"] == pytest.approx(float(r["lddt"]), abs=1e-4), name
        assert s["tm_score"] == pytest.approx(float(r["tm_score"]), abs=2e-3), name
        assert s["gdt_ts"] == pytest.approx(float(r["gdt_ts"]), abs=6e-3), name


def test_score_models_cli_scores_a_folder_and_lists_the_bad_file(data_root, tmp_path):
    root, rows = shipped_labels(data_root)
    target = root / "targets" / "T0949-D1"
    names = sorted(r["model"] for r in rows.values() if r["target"] == "T0949-D1")[:4]
    folder = tmp_path / "models"
    folder.mkdir()
    for name in names:
        shutil.copy(target / "models" / f"{name}.pdb.gz", folder)
    (folder / "broken.pdb.gz").write_bytes(gzip.compress(b"HEADER nothing\n"))
    res = runner.invoke(app, ["protein", "score-models", str(folder), "--native", str(target / "native.pdb.gz")])
    assert res.exit_code == 0, res.output
    assert "broken.pdb.gz" in res.output
    got = {r["model"]: r for r in csv.DictReader(open(folder / "scores.csv"))}
    assert sorted(got) == sorted(f"{n}.pdb.gz" for n in names)
    for n in names:
        assert float(got[f"{n}.pdb.gz"]["gdt_ts"]) == pytest.approx(float(rows[n]["gdt_ts"]), abs=6e-3)
        assert float(got[f"{n}.pdb.gz"]["lddt"]) == pytest.approx(float(rows[n]["lddt"]), abs=1e-4)
