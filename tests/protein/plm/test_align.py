"""Alignment of embedded sequences to structures, on hand cases and on the 148 real DB5 ESM-2 chains."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from intergraph.protein.db5 import DB5
from intergraph.protein.plm.align import (
    AlignmentError,
    align,
    attach,
    attach_from_store,
    checked_alignment,
    nearest_stored,
)
from intergraph.protein.plm.arms import PLMSource
from intergraph.protein.plm.pipeline import import_to_store
from intergraph.protein.plm.store import EmbeddingStore


def test_identical_and_gapped_alignments():
    al = align("MKTAYIAKQR", "MKTAYIAKQR")
    assert al.rows.tolist() == list(range(10)) and al.identity == al.coverage == 1.0
    # structure misses the first two and one internal residue of the embedded sequence
    al = align("MKTAYIAKQRLEEK", "TAYAKQRLEEK")
    assert al.rows.tolist() == [2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13]
    assert al.identity == 1.0 and al.coverage == 1.0
    # structure residues beyond the embedded sequence stay unmapped (-1), never padded
    al = align("TAYIAK", "MMTAYIAKGG")
    assert al.rows.tolist() == [-1, -1, 0, 1, 2, 3, 4, 5, -1, -1]
    assert al.coverage == pytest.approx(0.6)


def test_mismatch_is_an_error_naming_the_chain_and_both_figures():
    with pytest.raises(AlignmentError) as e:
        checked_alignment("MKTAYIAKQRQISFVKSHFSRQ", "WWWWWGGGGGPPPPP", "1ABC chain A")
    msg = str(e.value)
    assert "1ABC chain A" in msg and "identity" in msg and "coverage" in msg


def test_attach_masks_unmatched_nodes():
    from torch_geometric.data import Data

    g = Data(num_nodes=5)
    g.name, g.sequence, g.chain_ids, g.chain = "toy", "AKQRL", ["A"], torch.zeros(5, dtype=torch.long)
    emb = np.arange(4 * 3, dtype=np.float32).reshape(4, 3)  # embeds only KQRL
    attach(g, {None: ("KQRL", emb)}, min_coverage=0.5)
    assert g.plm_mask.tolist() == [False, True, True, True, True]
    assert (g.plm[0] == 0).all() and torch.equal(g.plm[1:], torch.from_numpy(emb))


@pytest.fixture(scope="module")
def db5_store(data_root, tmp_path_factory):
    path = tmp_path_factory.mktemp("store")
    with EmbeddingStore(path) as s:
        report = import_to_store([data_root / "esm2_650m_db5"], s, "esm2_t33_650M_UR50D", "33")
    assert report.done == 148 and not report.failed
    return path


def test_real_embeddings_align_onto_bound_and_unbound_structures(data_root, db5_store):
    """The shared ESM-2 650M embeddings were computed from unbound chains; aligned onto the bound
    structures they must reproduce the identity/coverage figures published with the data."""
    rows = list(csv.DictReader(open(data_root / "esm2_650m_db5" / "index.csv")))
    assert len(rows) == 148
    complexes = sorted({r["complex"] for r in rows})
    ident = {"b": [], "u": []}
    for form in "bu":
        ds = DB5(data_root / "db5", form=form, ids=complexes, plm=PLMSource(db5_store, "esm2_t33_650M_UR50D", "33",
                                                                           min_identity=0.9, min_coverage=0.6))
        assert ds.ids_with_embeddings() == complexes
        for cid in complexes:
            item = ds[cid]
            for g in (item.receptor, item.ligand):
                assert g.plm.shape == (g.num_nodes, 1280)
                assert g.plm_mask.float().mean() > 0.6
                assert (g.plm[~g.plm_mask] == 0).all()
                ident[form].append(g.plm_identity[0])
    reference = {r["chain_file"]: float(r["aligned_identity"]) for r in rows}
    assert np.median(ident["b"]) == 1.0 and min(ident["b"]) == pytest.approx(min(reference.values()), abs=0.005)
    assert np.mean(ident["b"]) == pytest.approx(np.mean(list(reference.values())), abs=0.002)
    assert min(ident["u"]) == 1.0  # embedded from the unbound chains (MSE read as M)


def test_rows_agree_with_the_published_residue_map(data_root, db5_store):
    """Our alignment of 1ACB's ligand onto its bound structure equals the shipped ``pos_b`` map."""
    import gzip

    z = np.load(data_root / "esm2_650m_db5" / "2OUL.B.npz")
    path = data_root / "db5" / "structures" / "2OUL_l_b.pdb.gz"
    their_residues = []  # their list: residues with CA in ATOM records, file order
    for line in gzip.decompress(path.read_bytes()).decode().splitlines():
        if line.startswith("ATOM  ") and line[12:16] == " CA ":
            their_residues.append((line[21], int(line[22:26]), line[26].strip()))
    ds = DB5(data_root / "db5", ids=["2OUL"], plm=PLMSource(db5_store, "esm2_t33_650M_UR50D", "33"))
    g = ds["2OUL"].ligand
    ours = {(g.chain_ids[c], int(n), chr(i) if i else ""): k for k, (c, n, i) in
            enumerate(zip(g.chain.tolist(), g.residue_number.tolist(), g.insertion_code.tolist()))}
    from intergraph.protein.plm.align import align as do_align

    al = do_align(str(z["seq"]), g.sequence)
    agree = total = 0
    for row, idx in enumerate(z["pos_b"].tolist()):
        if idx < 0:
            continue
        total += 1
        agree += al.rows[ours[their_residues[idx]]] == row
    assert total > 0 and agree / total > 0.99


def test_a_new_input_finds_its_chain_embedding_by_alignment_as_the_named_lookup_does(data_root, db5_store):
    """New inputs are looked up by sequence: a bound chain whose observed residues differ from the embedded (unbound)
    sequence takes the stored sequence aligning to it, and gets the very features training attached by name."""
    from intergraph.protein.featurize import featurize

    source = PLMSource(db5_store, "esm2_t33_650M_UR50D", "33", min_identity=0.9, min_coverage=0.6)
    ds = DB5(data_root / "db5", form="b", ids=["1AY7", "1EAW"], plm=source)
    differed = 0
    with EmbeddingStore(db5_store, readonly=True) as store:
        for cid in ("1AY7", "1EAW"):
            for role in "rl":
                named = getattr(ds[cid], "receptor" if role == "r" else "ligand")
                fresh = featurize(ds.structure(cid, role, "b"), name=f"{cid}_{role}")
                differed += store.get(source.model, source.layers, fresh.chain_sequences[0]) is None
                attach_from_store(fresh, store, source.model, source.layers, min_identity=0.9, min_coverage=0.6)
                assert torch.equal(fresh.plm, named.plm) and torch.equal(fresh.plm_mask, named.plm_mask)
        assert differed >= 1   # at least one chain needed the alignment (1AY7's ligand does)
        with pytest.raises(AlignmentError, match="or one aligning to it"):
            g = featurize(ds.structure("1AY7", "r", "b"), name="odd")
            g.chain_sequences = ["W" * len(g.chain_sequences[0])]
            attach_from_store(g, store, source.model, source.layers)
        assert nearest_stored(store, source.model, source.layers, "WWWWWWWW") is None
