"""Pair sources (DB5 layout, any folder, DIPS names, CSV), duplicate groups and splits."""
from __future__ import annotations

import shutil

import pytest

from intergraph.errors import InputError
from intergraph.protein.complexes import ComplexSet
from intergraph.protein.pairs import duplicate_groups, kfold_parts, read_pairs, renamed_copies, split_ids


def test_db5_reads_as_a_pair_source_with_its_splits(db5_root):
    src = read_pairs(db5_root)
    assert len(src.pairs) == 271 and not src.skipped
    assert {k: len(v) for k, v in src.splits.items()} == {"train": 203, "val": 25, "test": 25}
    p = src.pairs["1AVX"]
    assert p.file("r", "b").name == "1AVX_r_b.pdb.gz" and p.file("l", "u").name == "1AVX_l_u.pdb.gz"


def test_folder_of_pairs_under_any_names_dips_layout_and_bad_files(db5_root, tmp_path):
    s = db5_root / "structures"
    shutil.copy(s / "7CEI_r_b.pdb.gz", tmp_path / "my.complex_r.pdb.gz")
    shutil.copy(s / "7CEI_l_b.pdb.gz", tmp_path / "my.complex_l.pdb.gz")
    shutil.copy(s / "1AVX_r_b.pdb.gz", tmp_path / "a9_1a95.pdb1_3_r_b_COMPLEX.pdb.gz")  # EquiDock's DIPS names
    shutil.copy(s / "1AVX_l_b.pdb.gz", tmp_path / "a9_1a95.pdb1_3_l_b_COMPLEX.pdb.gz")
    shutil.copy(s / "1ZHI_r_b.pdb.gz", tmp_path / "lonely_r.pdb.gz")  # no ligand
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "stray.pdb").write_text("ATOM")
    src = read_pairs(tmp_path)
    assert sorted(src.pairs) == ["a9_1a95.pdb1_3", "my.complex"]
    assert src.pairs["a9_1a95.pdb1_3"].file("l").name.endswith("_l_b_COMPLEX.pdb.gz")
    reasons = dict(src.skipped)
    assert "has no ligand file" in reasons[str(tmp_path / "lonely_r.pdb.gz")]
    assert "name is not" in reasons[str(tmp_path / "stray.pdb")]
    assert not src.splits
    shutil.copy(s / "7CEI_r_b.pdb.gz", tmp_path / "my.complex_r_b.pdb")  # a second bound receptor file
    with pytest.raises(InputError, match="two receptor files"):
        read_pairs(tmp_path)


def test_csv_of_pairs_with_splits_and_a_missing_file(db5_root, tmp_path):
    s = db5_root / "structures"
    rows = ["id,receptor,ligand,split", f"A,{s / '7CEI_r_b.pdb.gz'},{s / '7CEI_l_b.pdb.gz'},train",
            f"B,{s / '1AVX_r_b.pdb.gz'},{s / '1AVX_l_b.pdb.gz'},test", "C,nowhere_r.pdb,nowhere_l.pdb,val"]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    src = read_pairs(tmp_path / "pairs.csv")
    assert sorted(src.pairs) == ["A", "B"] and src.splits == {"train": ["A"], "test": ["B"]}
    assert "no such file" in src.skipped[0][1]
    (tmp_path / "bad.csv").write_text("name,receptor\nA,x\n")
    with pytest.raises(InputError, match="id,receptor,ligand"):
        read_pairs(tmp_path / "bad.csv")


def test_renamed_copies_and_same_crystal_complexes_are_found(db5_root, tmp_path):
    ids = ["BAAD", "3AAD", "BOYV", "1OYV", "BP57", "CP57", "3P57", "9QFW", "1QFW", "7CEI", "1AVX"]
    cset = ComplexSet(db5_root, cache_dir=tmp_path, ids=ids)
    prints = cset.fingerprints(ids)
    groups = duplicate_groups(prints)
    assert groups["BAAD"] == groups["3AAD"] and groups["BOYV"] == groups["1OYV"]
    assert groups["BP57"] == groups["CP57"] == groups["3P57"] and groups["9QFW"] == groups["1QFW"]
    assert len({groups[i] for i in ids}) == 6  # the four families and two unrelated complexes
    assert groups["7CEI"] == "7CEI" and groups["1AVX"] == "1AVX"
    # the same complex twice (same sequences + a shared partner's coordinates); 9QFW is another antibody
    assert renamed_copies(prints) == {"BAAD": "3AAD", "BOYV": "1OYV", "BP57": "3P57", "CP57": "3P57"}
    assert renamed_copies(prints, prefer={"BOYV"})["1OYV"] == "BOYV"


def test_kfold_keeps_groups_whole_partitions_the_pool_and_follows_the_seed():
    pool = [f"C{i:02d}" for i in range(40)]
    groups = {i: i for i in pool}
    groups.update({"C01": "C00", "C02": "C00", "C03": "C00", "C10": "C10", "C11": "C10"})
    parts = kfold_parts(pool, 5, seed=3, groups=groups)
    assert sorted(sum(parts, [])) == pool and max(map(len, parts)) - min(map(len, parts)) <= 3
    assert any({"C00", "C01", "C02", "C03"} <= set(p) for p in parts)
    for k in range(5):
        s = split_ids(pool, "kfold", groups=groups, folds=5, fold=k, seed=3)
        assert s["test"] == parts[k]
        assert not (set(s["train"]) & set(s["test"])) and not (set(s["val"]) & set(s["train"]))
        assert sorted(s["train"] + s["val"] + s["test"]) == pool
        for family in ({"C00", "C01", "C02", "C03"}, {"C10", "C11"}):
            assert sum(bool(family & set(s[x])) for x in s) == 1  # one side only
    assert split_ids(pool, "kfold", folds=5, fold=0, seed=3) == split_ids(pool, "kfold", folds=5, fold=0, seed=3)
    assert kfold_parts(pool, 5, seed=0) != kfold_parts(pool, 5, seed=1)


def test_random_given_and_test_splits():
    pool = [f"C{i:02d}" for i in range(50)]
    s = split_ids(pool, "random", seed=1, val_fraction=0.1, test_fraction=0.2)
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (35, 5, 10)
    given = {"train": ["C00", "C01", "X"], "val": ["C03"], "test": ["C02"]}
    assert split_ids(pool, "given", given) == {"train": ["C00", "C01"], "val": ["C03"], "test": ["C02"]}
    without_val = split_ids(pool, "given", {"train": pool[:40], "test": pool[40:]}, seed=2, val_fraction=0.1)
    assert len(without_val["val"]) == 4 and sorted(without_val["train"] + without_val["val"]) == pool[:40]
    assert without_val["test"] == pool[40:]
    assert split_ids(pool, "test")["test"] == pool
    with pytest.raises(InputError, match="no split lists"):
        split_ids(pool, "given", {})
    with pytest.raises(InputError, match="kfold"):
        split_ids(pool, "sideways")
