"""Structure readers: real files, format agreement, residue semantics, and every kind of bad input."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from intergraph.protein.featurize import featurize
from intergraph.protein.io import parse_pdb, read_atom3d_lmdb, read_structure, structure_to_pdb
from intergraph.protein.structure import StructureError


def atom(serial, name, resname, chain, number, x, y, z, occ=1.0, altloc=" ", icode=" ", element=None, het=False):
    element = element or name.strip()[0]
    tag = "HETATM" if het else "ATOM  "
    padded = f" {name:<3}" if len(name) < 4 else name
    return (f"{tag}{serial:5d} {padded}{altloc}{resname:>3} {chain}{number:4d}{icode}   "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{occ:6.2f}{20.0:6.2f}          {element:>2}\n")


def residue(serial, resname, chain, number, origin, icode=" ", het=False, skip=()):
    """Backbone + CB of one residue at ``origin`` (idealised geometry is irrelevant here)."""
    ox, oy, oz = origin
    parts = [("N", -1.2, 0.6, 0.0), ("CA", 0.0, 0.0, 0.0), ("C", 1.3, 0.7, 0.0), ("O", 1.4, 1.9, 0.1),
             ("CB", 0.0, -1.5, 0.3)]
    lines = []
    for k, (name, dx, dy, dz) in enumerate(parts):
        if name in skip:
            continue
        lines.append(atom(serial + k, name, resname, chain, number, ox + dx, oy + dy, oz + dz, icode=icode, het=het))
    return "".join(lines)


def chain_text(n, chain="A", resname="ALA", start=1):
    return "".join(residue(5 * i + 1, resname, chain, start + i, (3.8 * i, 0.0, 0.0)) for i in range(n))


# ------------------------------------------------------------------------------------------ real files
def test_real_pdb_counts_match_the_raw_records(db5_root):
    path = db5_root / "structures" / "1AVX_r_b.pdb.gz"
    text = gzip.decompress(path.read_bytes()).decode()
    records = [l for l in text.splitlines() if l.startswith(("ATOM  ", "HETATM"))]
    s = read_structure(path)
    assert s.n_atoms == len(records)  # no alternate locations in this file
    cas = {(l[21], int(l[22:26]), l[26]) for l in records if l[12:16] == " CA "}
    assert sum(len(c.residues) for c in s.chains()) == len(cas) == 223
    assert np.allclose(s.coord[0], [float(records[0][30:38]), float(records[0][38:46]), float(records[0][46:54])])


def test_pdb_and_mmcif_of_the_same_entry_agree(data_root):
    a = read_structure(data_root / "atom3d_sample" / "pdb" / "11as.pdb.gz")
    b = read_structure(data_root / "atom3d_sample" / "mmcif" / "11as.cif")
    assert a.n_atoms == b.n_atoms == 5220
    np.testing.assert_allclose(a.coord, b.coord, atol=1e-3)
    assert (a.atom_name == b.atom_name).all() and (a.res_number == b.res_number).all()
    assert [c.sequence for c in a.chains()] == [c.sequence for c in b.chains()]
    assert len(a.hetero_groups()) == len(b.hetero_groups()) > 0


def test_gzip_and_plain_and_mmcif_gz_read_the_same(tmp_path, data_root):
    src = data_root / "atom3d_sample" / "mmcif" / "103l.cif"
    gz = tmp_path / "x.cif.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    renamed = tmp_path / "x.pdb"  # wrong extension: the content decides
    renamed.write_bytes(src.read_bytes())
    a, b, c = read_structure(src), read_structure(gz), read_structure(renamed)
    assert a.n_atoms == b.n_atoms == c.n_atoms
    np.testing.assert_array_equal(a.coord, b.coord)


def test_insertion_codes_and_author_numbering_are_kept(db5_root):
    path = db5_root / "structures" / "1EAW_r_b.pdb.gz"
    s = read_structure(path)
    expected = []  # residues with a CA, in file order, straight from the text
    for line in gzip.decompress(path.read_bytes()).decode().splitlines():
        if line.startswith("ATOM  ") and line[12:16] == " CA ":
            expected.append((line[21], int(line[22:26]), line[26].strip()))
    ours = [(str(s.res_chain[r]), int(s.res_number[r]), str(s.res_icode[r])) for c in s.chains() for r in c.residues]
    assert ours == expected
    assert any(ic for _, _, ic in ours), "1EAW (a serine protease, chymotrypsin numbering) has insertion codes"


def test_atom3d_lmdb_reads_all_entries(data_root):
    entries = list(read_atom3d_lmdb(data_root / "atom3d_sample" / "lmdb"))
    assert [e[0] for e in entries] == ["11as.pdb", "117e.pdb", "2olx.pdb", "103l.pdb"]
    # 2olx holds 3 models (105 atoms); like every reader here, the first model (35 atoms) is read
    assert [e[1].n_atoms for e in entries] == [5220, 4943, 35, 1404]
    assert any("3 models" in w for w in entries[2][1].warnings)
    assert all(e[2]["label"] == 0 for e in entries)
    for item_id, structure, _ in entries:
        ref = read_structure(data_root / "atom3d_sample" / "pdb" / f"{item_id[:-4]}.pdb.gz")
        # Atom3D (Biopython) groups hetero atoms with their chain; the PDB lists them last: compare by key
        def by_key(s):
            r = s.atom_residue
            keys = [f"{s.res_chain[i]}{s.res_number[i]}{s.res_icode[i]}{s.res_name[i]}:{n}"
                    for i, n in zip(r, s.atom_name)]
            return dict(zip(keys, s.coord.tolist()))

        ours, theirs = by_key(structure), by_key(ref)
        assert ours.keys() == theirs.keys()
        np.testing.assert_allclose([ours[k] for k in theirs], list(theirs.values()), atol=1e-3)
        assert [c.sequence for c in structure.chains()] == [c.sequence for c in ref.chains()]


# ---------------------------------------------------------------------------------- residue semantics
def test_alternate_locations_resolved_by_highest_occupancy():
    text = (atom(1, "N", "SER", "A", 1, 0, 0, 0) + atom(2, "CA", "SER", "A", 1, 1, 0, 0)
            + atom(3, "OG", "SER", "A", 1, 5, 5, 5, occ=0.3, altloc="A")
            + atom(4, "OG", "SER", "A", 1, 6, 6, 6, occ=0.7, altloc="B"))
    s = parse_pdb(text)
    assert list(s.atom_name) == ["N", "CA", "OG"]
    np.testing.assert_allclose(s.coord[2], [6, 6, 6])
    assert any("alternate-location" in w for w in s.warnings)


def test_a_record_repeated_verbatim_is_dropped_with_a_warning():
    # as in some CASP13 server models: the same line twice
    n = atom(1, "N", "LEU", "A", 1, 0, 0, 0)
    text = n + n + atom(2, "CA", "LEU", "A", 1, 1, 0, 0)
    s = parse_pdb(text)
    assert list(s.atom_name) == ["N", "CA"] and s.n_residues == 1
    assert any("repeated verbatim" in w and "line 2" in w for w in s.warnings)


def test_modified_unknown_and_hetero_residues():
    text = (residue(1, "ALA", "A", 1, (0, 0, 0)) + residue(6, "MSE", "A", 2, (3.8, 0, 0), het=True)
            + residue(11, "ZZQ", "A", 3, (7.6, 0, 0)) + residue(16, "GLY", "A", 4, (11.4, 0, 0))
            + atom(30, "C1", "NAG", "A", 101, 20, 20, 20, het=True)
            + atom(31, "O", "HOH", "A", 201, 30, 30, 30, het=True))
    s = parse_pdb(text)
    (chain,) = s.chains()
    assert chain.sequence == "AMXG"
    assert s.res_modified[chain.residues].tolist() == [False, True, False, False]
    assert [s.res_name[r] for r in s.hetero_groups()] == ["NAG", "HOH"]
    assert any("marked X" in w for w in s.warnings)
    g = featurize(s)
    assert g.num_nodes == 4 and g.sequence == "AMXG"


def test_residue_without_ca_is_excluded_and_counted_missing_backbone_flagged():
    text = (residue(1, "ALA", "A", 1, (0, 0, 0)) + residue(6, "ALA", "A", 2, (3.8, 0, 0), skip=("CA",))
            + residue(11, "ALA", "A", 3, (7.6, 0, 0), skip=("N",)) + residue(16, "ALA", "A", 4, (11.4, 0, 0)))
    g = featurize(parse_pdb(text))
    assert g.num_nodes == 3 and g.n_residues_without_ca == 1
    assert g.residue_number.tolist() == [1, 3, 4]
    assert g.node_s[:, 6].tolist() == [0.0, 1.0, 0.0]
    assert g.backbone_mask[1].tolist() == [False, True, True, True]
    assert (g.node_v[1, 2] == 0).all()  # no side-chain direction without N


def test_first_model_only(tmp_path):
    one = chain_text(3)
    two = chain_text(5)
    s = parse_pdb(f"MODEL        1\n{one}ENDMDL\nMODEL        2\n{two}ENDMDL\n")
    assert s.n_residues == 3 and any("models" in w for w in s.warnings)


def test_pdb_round_trip(db5_root, tmp_path):
    s = read_structure(db5_root / "structures" / "1AHW_r_b.pdb.gz")
    path = tmp_path / "rt.pdb"
    path.write_text(structure_to_pdb(s))
    t = read_structure(path)
    for field in ("atom_name", "element", "res_chain", "res_number", "res_icode", "res_name", "res_hetero"):
        assert (getattr(s, field) == getattr(t, field)).all(), field
    np.testing.assert_allclose(s.coord, t.coord, atol=1e-3)


def test_twenty_thousand_residue_chain_works(tmp_path):
    """Residue numbers wrap past 9999 in PDB format; consecutive records still make distinct residues."""
    n = 20_000
    lines = []
    for i in range(n):
        x, y, z = 3.8 * (i % 100), 3.8 * ((i // 100) % 100), 3.8 * (i // 10_000)
        lines.append(atom(i % 100_000, "CA", "GLY", "A", (i + 1) % 10_000, x, y, z))
    path = tmp_path / "huge.pdb"
    path.write_text("".join(lines))
    s = read_structure(path)
    assert len(s.chains()[0].residues) == n
    g = featurize(s)
    assert g.num_nodes == n and g.num_edges > 0


def test_hybrid36_residue_numbers():
    text = residue(1, "ALA", "A", 9999, (0, 0, 0))
    line = atom(6, "CA", "ALA", "A", 0, 3.8, 0, 0)
    text += line[:22] + "A000" + line[26:]
    s = parse_pdb(text)
    assert s.res_number.tolist() == [9999, 10000]


# ----------------------------------------------------------------------------------------- bad input
BAD = {
    "empty.pdb": (b"", "empty file"),
    "blank.pdb": (b"\n\n   \n", "empty file"),
    "binary.pdb": (bytes(range(256)) * 4, "binary data"),
    "truncated.pdb.gz": (gzip.compress(chain_text(20).encode())[:150], "truncated or corrupt gzip"),
    "sequence.pdb": (b">seq1\nMKTAYIAKQR\n", "FASTA"),
    "notes.pdb": (b"HEADER    just a header\nREMARK nothing here\n", "no ATOM/HETATM records"),
    "hetonly.pdb": ((atom(1, "C1", "NAG", "A", 1, 0, 0, 0, het=True)
                     + atom(2, "O", "HOH", "A", 2, 3, 3, 3, het=True)).encode(), "HETATM records only"),
    "noca.pdb": (residue(1, "ALA", "A", 1, (0, 0, 0), skip=("CA",)).encode(), "no Cα atoms"),
    "nan.pdb": ((chain_text(2) + atom(11, "CA", "ALA", "A", 3, float("nan"), 0, 0)).encode(), "non-finite"),
    "badcoord.pdb": (chain_text(2).replace("   3.800", "   3.8x0", 1).encode(), "cannot read coordinate"),
    "cutline.pdb": ((chain_text(2) + "ATOM     11  CA  ALA A   3      12.0").encode(), "truncated record"),
    "dup.pdb": ((chain_text(2) + atom(99, "CA", "ALA", "A", 2, 9, 9, 9)).encode(), "duplicated atom CA"),
    "brokencif.cif": (b"data_x\nloop_\n_atom_site.id\n_atom_site.Cartn_x\n1\n", "mmCIF"),
    "nocoords.cif": (b"data_x\n_cell.length_a 10.0\n", "no coordinates"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_gives_one_clear_error(tmp_path, name):
    content, problem = BAD[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StructureError) as e:
        featurize(read_structure(path))
    assert str(path) in str(e.value) and problem in str(e.value), str(e.value)


def test_absurd_coordinates_are_rejected():
    # PDB columns cannot hold 1e6; mmCIF can
    cif = ("data_x\nloop_\n_atom_site.group_PDB\n_atom_site.label_atom_id\n_atom_site.label_comp_id\n"
           "_atom_site.auth_asym_id\n_atom_site.auth_seq_id\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n"
           "_atom_site.Cartn_z\n_atom_site.type_symbol\nATOM CA ALA A 1 1000000.0 0.0 0.0 C\n")
    from intergraph.protein.io import parse_mmcif

    with pytest.raises(StructureError, match="absurd coordinates"):
        parse_mmcif(cif, "x.cif")


def test_missing_file_is_a_structure_error(tmp_path):
    with pytest.raises(StructureError, match="file not found"):
        read_structure(tmp_path / "nope.pdb")


def test_mmcif_quoted_values_and_missing_optional_columns():
    from intergraph.protein.io import parse_mmcif

    cif = ("data_x\nloop_\n_atom_site.group_PDB\n_atom_site.label_atom_id\n_atom_site.label_comp_id\n"
           "_atom_site.auth_asym_id\n_atom_site.auth_seq_id\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n"
           "_atom_site.Cartn_z\n_atom_site.type_symbol\n"
           "ATOM N ALA A 1 0.0 0.0 0.0 N\nATOM CA ALA A 1 1.4 0.0 0.0 C\n"
           "HETATM \"O5'\" LIG A 2 9.0 9.0 9.0 O\n")
    s = parse_mmcif(cif, "q.cif")
    assert s.atom_name.tolist() == ["N", "CA", "O5'"]
    assert s.occupancy.tolist() == [1.0, 1.0, 1.0] and s.res_icode.tolist() == ["", ""]
    assert [s.res_name[r] for r in s.hetero_groups()] == ["LIG"]
