"""The DB5.5 data set: inventory, splits, difficulty, labels and the content-keyed cache."""
from __future__ import annotations

import collections

import pytest
import torch

from intergraph.protein import complexes as complexes_module
from intergraph.protein.db5 import DB5
from intergraph.protein.featurize import GraphConfig


def test_inventory_and_splits(db5_root):
    ds = DB5(db5_root)
    assert len(ds.all_ids) == 271
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 203, "val": 25, "test": 25}
    split_ids = set().union(*ds.splits.values())
    assert len(split_ids) == 253 and split_ids == set(ds.difficulty)
    counts = collections.Counter(ds.difficulty[i] for i in ds.splits["test"])
    assert counts == {"rigid": 16, "medium": 6, "difficult": 3}
    assert len(DB5(db5_root, split="test")) == 25
    with pytest.raises(ValueError):
        DB5(db5_root, split="nope")


def test_bound_items_carry_both_label_definitions(db5_root):
    item = DB5(db5_root, split="test")["1AVX"]
    for g in (item.receptor, item.ligand):
        assert g.y_ca.shape == g.y_heavy.shape == (g.num_nodes,)
        assert g.y_ca.dtype == torch.bool and 0 < g.y_heavy.sum() < g.num_nodes
    assert item.receptor.y_mask.all() and item.ligand.y_mask.all()
    unbound = DB5(db5_root, split="test", form="u")["1AVX"]
    for g_u, g_b in ((unbound.receptor, item.receptor), (unbound.ligand, item.ligand)):
        # unbound residues inherit the bound labels through the alignment; unmatched ones are masked
        assert g_u.y_mask.float().mean() > 0.9
        assert abs(int(g_u.y_heavy.sum()) - int(g_b.y_heavy.sum())) <= 0.1 * int(g_b.y_heavy.sum())
        assert not g_u.y_heavy[~g_u.y_mask].any()


def test_second_run_does_no_parsing_and_config_changes_miss(db5_root, tmp_path, monkeypatch):
    first = DB5(db5_root, split="test", cache_dir=tmp_path)["1AVX"]

    def no_parsing(*a, **k):
        raise AssertionError("parsed although cached")

    monkeypatch.setattr(complexes_module, "read_structure", no_parsing)
    again = DB5(db5_root, split="test", cache_dir=tmp_path)["1AVX"]
    assert torch.equal(first.receptor.edge_s, again.receptor.edge_s)
    assert torch.equal(first.ligand.y_heavy, again.ligand.y_heavy)
    with pytest.raises(AssertionError, match="parsed although cached"):
        DB5(db5_root, split="test", cache_dir=tmp_path, config=GraphConfig(radius=10.0))["1AVX"]
    with pytest.raises(AssertionError, match="parsed although cached"):
        DB5(db5_root, split="test", cache_dir=tmp_path, heavy_cutoff=5.0)["1AVX"]


def test_changed_file_content_misses_the_cache(db5_root, tmp_path):
    import shutil

    root = tmp_path / "db5"
    (root / "structures").mkdir(parents=True)
    for role in "rl":
        shutil.copy(db5_root / "structures" / f"1AVX_{role}_b.pdb.gz", root / "structures")
    ds = DB5(root, cache_dir=tmp_path / "cache")
    a = ds["1AVX"]
    # replace the ligand by another complex's ligand under the same name
    shutil.copy(db5_root / "structures" / "7CEI_l_b.pdb.gz", root / "structures" / "1AVX_l_b.pdb.gz")
    b = ds["1AVX"]
    assert a.ligand.num_nodes != b.ligand.num_nodes
