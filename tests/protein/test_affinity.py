"""Binding affinity: ligands through RDKit (and their failures), atom graphs, invariance, the Atom3D LBA LMDB
round trip, cross-validation end to end and the one-complex prediction from the CLI."""
from __future__ import annotations

import gzip
import json

import lmdb
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.graph.rigid import random_rotation
from intergraph.protein.io import read_structure
from intergraph.protein.structure import StructureError
from intergraph.protein.tasks.affinity.data import pdbbind_folder, read_lba_lmdb
from intergraph.protein.tasks.affinity.ligand import LigandError, ligand_atom_features, read_ligand
from intergraph.protein.tasks.affinity.model import AffinityModel, affinity_encoder, complex_graph

runner = CliRunner()


@pytest.fixture(scope="module")
def lba(data_root):
    return data_root / "lba_toy"


def files(lba, cid):
    folder = lba / "complexes" / cid
    return folder / f"{cid}_pocket.pdb.gz", folder / f"{cid}_ligand.sdf", folder / f"{cid}_protein.pdb.gz"


def test_ligands_keep_every_heavy_atom(lba):
    _, sdf, _ = files(lba, "1a61")
    mol = read_ligand(sdf)
    heavy = [line for line in sdf.read_text().splitlines()[4:4 + 73] if line[31:34].strip() != "H"]
    coords, feats, bonds = ligand_atom_features(mol)
    assert len(coords) == len(heavy) and feats.shape[0] == len(heavy)
    assert (feats[:, :10].sum(1) == 1).all() and (feats[:, 10] == 1).all()  # one element each, all ligand
    assert len(bonds) >= len(heavy) - 1
    np.testing.assert_allclose(coords[0], [float(heavy[0][0:10]), float(heavy[0][10:20]), float(heavy[0][20:30])],
                               atol=1e-4)
    via_mol2 = read_ligand(sdf.with_suffix(".mol2"))
    assert via_mol2.GetNumAtoms() == mol.GetNumAtoms()


def test_unsanitizable_and_bad_ligands_get_clear_errors(lba, tmp_path):
    _, sdf, _ = files(lba, "3qlb")  # a real PDBbind ligand with a five-valent carbon
    with pytest.raises(LigandError, match=r"3qlb_ligand.sdf: RDKit cannot sanitize.*valence.*; 3qlb_ligand.mol2: "):
        read_ligand(sdf)
    (tmp_path / "x.sdf").write_text("not a molecule\n")
    with pytest.raises(LigandError, match="x.sdf: RDKit could not parse"):
        read_ligand(tmp_path / "x.sdf")
    with pytest.raises(LigandError, match="unknown ligand format"):
        read_ligand(sdf.with_suffix(".pdb.gz").parent / "3qlb_pocket.pdb.gz")


def test_folder_reader_skips_and_reports_the_bad_complex(lba):
    complexes, splits, skipped = pdbbind_folder(lba)
    assert len(complexes) == 49 and [c for c, _ in skipped] == ["3qlb"]
    assert all(c.protein is not None and np.isfinite(c.pk) for c in complexes)


def test_complex_graph_and_invariance(lba):
    pocket_file, sdf, _ = files(lba, "1a61")
    pocket, mol = read_structure(pocket_file), read_ligand(sdf)
    g = complex_graph(pocket, mol)
    n_lig = mol.GetNumAtoms()
    assert int(g.is_ligand.sum()) == n_lig and g.num_nodes > n_lig
    kinds = g.edge_s[:, 16:19]
    assert (kinds.sum(1) == 1).all() and kinds[:, 2].sum() > 0  # protein-ligand contacts exist
    bonded = g.edge_s[:, 19] == 1
    assert bonded.sum() == 2 * mol.GetNumBonds() or bonded.sum() <= 2 * mol.GetNumBonds()
    assert (g.is_ligand[g.edge_index[0, bonded]] & g.is_ligand[g.edge_index[1, bonded]]).all()
    assert not (g.node_s[~g.is_ligand][:, 10] == 1).any()  # no water oxygens kept, no protein atom flagged
    rot = random_rotation(torch.Generator().manual_seed(0))
    moved = g.clone()
    moved.pos = g.pos @ rot.T + torch.tensor([30.0, -4.0, 8.0])
    moved.edge_v = g.edge_v @ rot.T
    for kind in ("gvp", "egnn", "molformer"):
        torch.manual_seed(0)
        model = AffinityModel(affinity_encoder(kind, "none", None, out_dim=16, layers=2)).eval()
        with torch.no_grad():
            a, b = model(Batch.from_data_list([g])), model(Batch.from_data_list([moved]))
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def _table(rows, columns):
    return {"columns": columns, "index": list(range(len(rows))), "data": rows}


COLUMNS = ["ensemble", "subunit", "structure", "model", "chain", "hetero", "insertion_code", "residue", "segid",
           "resname", "altloc", "occupancy", "bfactor", "x", "y", "z", "element", "name", "fullname", "serial_number"]


def _atoms_of(structure):
    rows = []
    for a in range(structure.n_atoms):
        r = structure.atom_residue[a]
        rows.append(["x", 0, "x", 0, str(structure.res_chain[r]), "H_X" if structure.res_hetero[r] else " ",
                     str(structure.res_icode[r]) or " ", int(structure.res_number[r]), "", str(structure.res_name[r]),
                     " ", 1.0, 0.0, *map(float, structure.coord[a]), str(structure.element[a]),
                     str(structure.atom_name[a]), str(structure.atom_name[a]), a + 1])
    return _table(rows, COLUMNS)


def write_lba_lmdb(path, entries):
    env = lmdb.open(str(path), map_size=1 << 28)
    with env.begin(write=True) as txn:
        for i, e in enumerate(entries):
            txn.put(str(i).encode(), gzip.compress(json.dumps(e).encode()))
        txn.put(b"num_examples", str(len(entries)).encode())
        txn.put(b"serialization_format", b"json")
    env.close()


def test_atom3d_lba_lmdb_round_trip(lba, data_root, tmp_path):
    from rdkit import Chem

    entries = []
    for cid, pk in (("1a61", 4.2), ("1eve", 8.5)):
        pocket_file, sdf, protein_file = files(lba, cid)
        mol = read_ligand(sdf)
        lig_rows = [["x", 0, "x", 0, "L", "H_LIG", " ", 1, "", "LIG", " ", 1.0, 0.0,
                     *map(float, mol.GetConformer().GetAtomPosition(a.GetIdx())), a.GetSymbol().upper(),
                     f"{a.GetSymbol()}{a.GetIdx()}", f"{a.GetSymbol()}{a.GetIdx()}", a.GetIdx() + 1]
                    for a in mol.GetAtoms()]
        entries.append({"id": cid, "atoms_pocket": _atoms_of(read_structure(pocket_file)),
                        "atoms_ligand": _table(lig_rows, COLUMNS),
                        "atoms_protein": _atoms_of(read_structure(protein_file)),
                        "smiles": Chem.MolToSmiles(mol), "scores": {"neglog_aff": pk}, "types": {}})
    entries.append({**entries[0], "id": "broken", "smiles": "CCO"})  # atoms that do not match their SMILES
    write_lba_lmdb(tmp_path / "lba", entries)
    complexes, skipped = read_lba_lmdb(tmp_path / "lba")
    assert [c.id for c in complexes] == ["1a61", "1eve"] and [c.pk for c in complexes] == [4.2, 8.5]
    assert [s[0] for s in skipped] == ["broken"] and "SMILES" in skipped[0][1]
    for c in complexes:
        pocket_file, sdf, _ = files(lba, c.id)
        a = complex_graph(read_structure(pocket_file), read_ligand(sdf))
        b = complex_graph(c.pocket, c.ligand)
        # the same atoms, elements, contacts and covalent bonds; charges, aromaticity and hydrogens of an LMDB
        # ligand come from its SMILES (Atom3D stores no bonds), which need not repeat the SDF's conventions
        for key in ("pos", "edge_index", "edge_s", "residue_type"):
            torch.testing.assert_close(a[key], b[key], atol=1e-3, rtol=0)
        torch.testing.assert_close(a.node_s[:, :11], b.node_s[:, :11])
    with pytest.raises(StructureError, match="not an Atom3D LBA data set"):
        read_lba_lmdb(data_root / "atom3d_sample" / "lmdb")


@pytest.fixture(scope="module")
def small_lba(lba, tmp_path_factory):
    """A PDBbind-layout folder of 9 complexes (3qlb, whose ligand RDKit rejects, among them)."""
    root = tmp_path_factory.mktemp("lba")
    ids = ["1a61", "1eve", "1h1d", "2pv2", "4fn5", "3n5k", "4cjq", "3qlb", "1h22"]
    labels = {r.split(",")[0]: r.split(",")[1] for r in (lba / "labels.csv").read_text().splitlines()[1:]}
    ids = [i for i in ids if i in labels and (lba / "complexes" / i).exists()]
    (root / "complexes").mkdir()
    for i in ids:
        (root / "complexes" / i).symlink_to((lba / "complexes" / i).resolve())
    (root / "labels.csv").write_text("pdbid,pK\n" + "".join(f"{i},{labels[i]}\n" for i in ids))
    return root, ids


def test_cross_validation_end_to_end_and_cli_prediction(small_lba, tmp_path):
    root, ids = small_lba
    out = tmp_path / "run"
    args = ["protein", "train", "--task", "affinity", "--data", str(root), "--folds", "2", "--epochs", "1",
            "--layers", "1", "--encoder", "egnn", "--batch-size", "4", "--out", str(out),
            "--cache", str(tmp_path / "c")]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "skipped 3qlb" in res.output
    summary = json.loads((out / "metrics.json").read_text())
    assert len(summary["folds"]) == 2 and set(summary["mean"]) == {"rmse", "pearson", "spearman"}
    tested = [line.split(",")[0] for k in (0, 1)
              for line in (out / f"fold{k}" / "items.csv").read_text().splitlines()[1:]]
    assert sorted(tested) == sorted(i for i in ids if i != "3qlb")  # every readable complex tested once
    for name in ("config.yaml", "fold0/metrics.json", "fold1/checkpoints/best.ckpt", "fold0/items.csv"):
        assert (out / name).exists(), name
    assert runner.invoke(app, args).exit_code == 0  # a rerun reuses the finished folds
    # the k-fold run evaluates fold by fold
    shown = runner.invoke(app, ["protein", "evaluate", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "fold 0" in shown.output and "fold 1" in shown.output
    pocket, sdf, _ = (root / "complexes" / ids[0] / f"{ids[0]}_{k}" for k in ("pocket.pdb.gz", "ligand.sdf", ""))
    res = runner.invoke(app, ["protein", "predict", "--pocket", str(pocket), "--ligand", str(sdf), "--model", str(out),
                              "--out", str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    assert "predicted pK" in res.output and "models:" in res.output
    row = (tmp_path / "pred" / "affinity.csv").read_text().splitlines()[1].split(",")
    assert row[3] == "2" and len(row[4].split()) == 2
    bad = runner.invoke(app, ["protein", "predict", "--pocket", str(pocket), "--ligand",
                              str(root / "complexes" / "3qlb" / "3qlb_ligand.sdf"), "--model", str(out),
                              "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "cannot sanitize" in bad.output


# --- PDBbind / CASF-2016 layout ---------------------------------------------------------------------------

CASF_CORE = ["1a30", "1bcu", "1e66", "1eby", "1g2k", "1gpk"]  # 1a30: its SDF fails sanitization, mol2 used
CASF_TRAIN = ["10gs", "1a61", "1eve", "1f8b", "1f8c", "1f8d", "1h1d", "1hte"]  # 10gs, 1f8*: SDF (gz) only


@pytest.fixture(scope="module")
def casf_folder(data_root, tmp_path_factory):
    """A folder in pdbbind_casf's layout: 6 core and 8 training complexes, and one whose pocket is missing."""
    src = data_root / "pdbbind_casf"
    root = tmp_path_factory.mktemp("casf")
    (root / "structures").mkdir()
    rows = {r.split(",")[0]: r for r in (src / "labels.csv").read_text().splitlines()[1:]}
    manifest = (src / "manifest.csv").read_text().splitlines()
    keep = CASF_CORE + CASF_TRAIN
    for cid in keep:
        (root / "structures" / cid).symlink_to(src / "structures" / cid)
    (root / "structures" / "9xyz").mkdir()
    (root / "structures" / "9xyz" / "9xyz_ligand.sdf.gz").symlink_to(src / "structures" / "1eve" / "1eve_ligand.sdf.gz")
    (root / "labels.csv").write_text("pdb_id,pK,source_index_file,set\n" + "".join(rows[c] + "\n" for c in keep) +
                                     "9xyz,5.0,made up,train\n")
    (root / "manifest.csv").write_text("\n".join([manifest[0]] + [m for m in manifest[1:] if m.split(",")[0] in keep]))
    return root


def test_pdbbind_layout_reader_splits_meta_and_ligand_fallbacks(casf_folder):
    from intergraph.protein.tasks.affinity.data import label_notes, load_complexes

    complexes, splits, skipped = load_complexes(str(casf_folder))
    assert sorted(c.id for c in complexes) == sorted(CASF_CORE + CASF_TRAIN)
    assert [s[0] for s in skipped] == ["9xyz"] and "no 9xyz_pocket" in skipped[0][1]
    assert sorted(splits["test"]) == sorted(CASF_CORE) and sorted(splits["train"]) == sorted(CASF_TRAIN)
    by_id = {c.id: c for c in complexes}
    assert by_id["1a30"].meta["sdf_rdkit_ok"] == "False" and by_id["1a30"].ligand.GetNumAtoms() > 5  # from mol2
    assert by_id["10gs"].meta["struct_source"] == "oddt" and by_id["10gs"].ligand.GetNumAtoms() > 5  # sdf.gz
    assert by_id["1a61"].meta["source_index_file"].startswith("INDEX_general") and by_id["1a61"].pk == 8.62
    assert all(c.protein is None for c in complexes)
    assert label_notes(complexes) == ("4 labels from PDBbind's general set (Kd/Ki or IC50); 3 pockets derived (cut "
                                      "from a docking-prepared receptor), not PDBbind's own")


def test_pocket_segments_and_groups(data_root):
    import collections

    from intergraph.protein.tasks.affinity.data import load_complexes, pocket_groups, pocket_segments

    complexes, splits, _ = load_complexes("pdbbind_casf")
    pocket = next(c for c in complexes if c.id == "10gs").pocket  # numbering goes back from 208 to 70 in one chain
    segments = pocket_segments(pocket)
    rows = np.concatenate([r for r, _ in segments])
    assert sorted(rows.tolist()) == np.flatnonzero(pocket.res_polymer).tolist()  # every amino acid, once
    for r, seq in segments:
        assert len(r) == len(seq) and len({str(pocket.res_chain[i]) for i in r}) == 1
        assert np.isin(np.diff(pocket.res_number[r]), (0, 1)).all()
    # CASF-2016's core set is 57 proteins with 5 ligands each: the pocket groups find most of them
    core = [c for c in complexes if c.id in set(splits["test"])]
    sizes = collections.Counter(collections.Counter(pocket_groups(core).values()).values())
    assert sizes[5] >= 35 and sum(sizes.values()) <= 75


def test_baselines_by_hand():
    from intergraph.protein.tasks.affinity.baselines import baseline_predictions, heavy_atom_line

    np.testing.assert_allclose(heavy_atom_line(np.array([10, 20, 30]), np.array([4.0, 6.0, 8.0]), np.array([25])),
                               [7.0])
    feats = {f"c{i}": np.full(36, float(i)) for i in range(12)}
    table = (feats, {k: float(v[0]) for k, v in feats.items()}, {k: "train" for k in feats})
    train = {f"c{i}": float(i) for i in range(8)}
    out = baseline_predictions(train, ["c8", "c9"], {f"c{i}": 10 * i for i in range(12)}, table=table)
    assert out["training mean"]["pred"] == {"c8": 3.5, "c9": 3.5}
    np.testing.assert_allclose(list(out["ligand heavy atoms (linear)"]["pred"].values()), [8.0, 9.0])
    assert set(out) == {"training mean", "ligand heavy atoms (linear)", "RF-Score v1, same training complexes",
                        "RF-Score v1, PDBbind v2016 general set minus core"}
    # the large forest never sees the test complexes; its predictions lie within the training labels
    assert out["RF-Score v1, PDBbind v2016 general set minus core"]["trained on"] == "10 complexes"
    assert all(0 <= p <= 11 for p in out["RF-Score v1, same training complexes"]["pred"].values())


def test_casf_protocol_end_to_end_with_baselines_and_prediction(casf_folder, tmp_path, monkeypatch):
    from intergraph.protein.tasks.affinity import baselines

    monkeypatch.setattr(baselines, "TREES", 20)  # the published 500 trees take half a minute on 11,904 complexes
    out = tmp_path / "casf"
    res = runner.invoke(app, ["protein", "compare", "--task", "affinity", "--data", str(casf_folder), "--split",
                              "given", "--encoders", "egnn", "--plm", "none,default", "--seeds", "1", "--epochs", "1",
                              "--layers", "1", "--batch-size", "4", "--cache", str(tmp_path / "c"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    md = (out / "summary.md").read_text()
    for text in ("| egnn | none | 1 × 1 |", "| egnn | default | 1 × 1 |", "Pearson r over complexes [95 % CI]",
                 "| training mean | 8 complexes | 6 |", "| RF-Score v1, same training complexes |",
                 "| RF-Score v1, PDBbind v2016 general set minus core |"):
        assert text in md, text
    split = json.loads((out / "runs" / "egnn_none_seed0" / "split.json").read_text())
    assert sorted(split["test"]) == sorted(CASF_CORE) and len(split["val"]) == 1 and len(split["train"]) == 7
    pocket = casf_folder / "structures" / "1a30" / "1a30_pocket.pdb.gz"
    ligand = casf_folder / "structures" / "1a30" / "1a30_ligand.mol2.gz"
    res = runner.invoke(app, ["protein", "predict", "--model", str(out / "runs" / "egnn_default_seed0"), "--pocket",
                              str(pocket), "--ligand", str(ligand), "--out", str(tmp_path / "pred")])
    assert res.exit_code == 0, res.output
    assert float((tmp_path / "pred" / "affinity.csv").read_text().splitlines()[1].split(",")[2]) > 0
    # a run is retrained from its config file alone: the task comes from the file
    res = runner.invoke(app, ["protein", "train", "--config", str(out / "runs" / "egnn_none_seed0" / "config.yaml"),
                              "--out", str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
    first = json.loads((out / "runs" / "egnn_none_seed0" / "metrics.json").read_text())["test"]
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["test"]["rmse"] == \
        pytest.approx(first["rmse"], abs=1e-5)


def test_whole_chain_plm_needs_the_protein_file(casf_folder):
    from intergraph.errors import InputError
    from intergraph.protein.tasks.affinity.data import load_complexes, plm_sequences

    c = load_complexes(str(casf_folder))[0][0]
    assert [name for name, _ in plm_sequences(c, "segments")][0] == f"{c.id}_pocket0"
    assert plm_sequences(c, "chain") == []
    with pytest.raises(InputError, match="segments or chain"):
        plm_sequences(c, "residues")
