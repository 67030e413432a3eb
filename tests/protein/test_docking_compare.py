"""Paired comparison of docking benchmark folders: arms renamed by interface source, the complexes every folder
holds, rates and paired differences equal to hand counts, other search settings refused."""
from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.errors import InputError
from intergraph.protein.tasks.docking.benchmark import FIELDS
from intergraph.protein.tasks.docking.compare import compare, merge

ARMS = {"shape+pair": {"shape": 1.0, "clash": -3.0, "pair": 5.0},
        "shape+pair+interface": {"shape": 1.0, "clash": -3.0, "pair": 5.0, "restraint": 1.0, "coupling": 0.0}}


def write_folder(path, dockq: dict, step=30.0):
    """A finished benchmark folder: ``dockq[arm][complex]`` = DockQ of ranks 1, 2, ...; cluspro as shipped."""
    path.mkdir()
    ids = sorted({c for per in dockq.values() for c in per})
    (path / "config.json").write_text(json.dumps({"ids": ids, "arms": ARMS, "inputs": "bound", "top": 3,
                                                  "search": {"step": step}, "interface": "x"}))
    rows = []
    for arm, per in dockq.items():
        for c, values in per.items():
            for k, d in enumerate(values, start=1):
                rows.append({"complex": c, "arm": arm, "rank": k, "score": -k, "cluster_size": 1, "dockq": d,
                             "fnat": 0, "irmsd": 1, "lrmsd": 1, "crmsd": 1, "seconds": 1})
    rows += [{"complex": c, "arm": "cluspro", "rank": 1, "score": "nan", "cluster_size": "nan", "dockq": 0.5,
              "fnat": 0, "irmsd": 1, "lrmsd": 1, "crmsd": 1, "seconds": "nan"} for c in ids]
    with open(path / "rows.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def folders(tmp_path):
    plain = {"C1": [0.1, 0.3, 0.0], "C2": [0.0, 0.0, 0.0], "C3": [0.6, 0.0, 0.0], "C4": [0.9, 0.0, 0.0]}
    a = write_folder(tmp_path / "a", {"shape+pair": plain,
                                      "shape+pair, by size": {c: [0.0] * 3 for c in plain},
                                      "shape+pair+interface": {"C1": [0.3, 0, 0], "C2": [0, 0, 0], "C3": [0.6, 0, 0],
                                                               "C4": [0.0, 0, 0]}})
    b = write_folder(tmp_path / "b", {"shape+pair": {c: v for c, v in plain.items() if c != "C4"},
                                      "shape+pair+interface": {"C1": [0.3, 0, 0], "C2": [0.5, 0, 0],
                                                               "C3": [0.6, 0, 0]}})
    return a, b


def test_arms_are_named_by_source_on_the_complexes_every_folder_holds(folders):
    a, b = folders
    rows, common, settings = merge({"none": a, "own": b})
    assert common == ["C1", "C2", "C3"] and settings["inputs"] == "bound"
    assert {r["complex"] for r in rows} == set(common)
    names = list(dict.fromkeys(r["arm"] for r in rows))
    assert names == ["shape+pair", "shape+pair+interface [none]", "cluspro", "shape+pair+interface [own]"]
    # arms without interface terms and shipped methods come once, from the first folder
    assert sum(r["arm"] == "shape+pair" for r in rows) == 9 and sum(r["arm"] == "cluspro" for r in rows) == 3


def test_rates_and_paired_differences_are_the_hand_counts(folders):
    a, b = folders
    result = compare({"none": a, "own": b})
    table = result["table"]
    # top-1 acceptable (DockQ >= 0.23) on C1..C3: shape+pair C3 only; [none] C1, C3; [own] all three
    assert table["shape+pair"]["success@1_0.23"]["rate"] == pytest.approx(1 / 3)
    assert table["shape+pair"]["success@5_0.23"]["rate"] == pytest.approx(2 / 3)
    assert table["shape+pair+interface [none]"]["success@1_0.23"]["rate"] == pytest.approx(2 / 3)
    assert table["shape+pair+interface [own]"]["success@1_0.23"]["rate"] == pytest.approx(1.0)
    assert table["cluspro"]["success@1_0.23"]["rate"] == pytest.approx(1.0)
    got = {(p["arm"], p["n"]): p for p in result["paired"]}
    own1 = got[("shape+pair+interface [own]", 1)]
    assert own1["base"] == "shape+pair" and own1["complexes"] == 3
    assert own1["difference"] == pytest.approx(2 / 3)
    assert own1["ci"][0] <= own1["difference"] <= own1["ci"][1]
    assert got[("shape+pair+interface [none]", 5)]["difference"] == pytest.approx(0.0)
    against = compare({"none": a, "own": b}, base="shape+pair+interface [none]")
    assert {(p["arm"], p["n"]): p["difference"] for p in against["paired"]}[
        ("shape+pair+interface [own]", 1)] == pytest.approx(1 / 3)


def test_other_search_settings_unknown_arms_and_bases_are_refused(folders, tmp_path):
    a, _ = folders
    other = write_folder(tmp_path / "c", {"shape+pair": {"C1": [0.5]}}, step=15.0)
    with pytest.raises(InputError, match=r"c: made with other search settings.*search.step"):
        merge({"a": a, "c": other})
    with pytest.raises(InputError, match="no config.json"):
        merge({"a": a, "x": tmp_path})
    with pytest.raises(InputError, match="shape in no folder"):
        merge({"a": a}, arms=["shape"])
    with pytest.raises(InputError, match="--base"):
        compare({"a": a}, base="shape")


def test_cli_writes_the_tables_and_figure(folders, tmp_path):
    a, b = folders
    out = tmp_path / "cmp"
    res = CliRunner().invoke(app, ["protein", "dock-compare", "--benchmarks", f"none={a},{b}", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = (out / "summary.md").read_text()
    assert "shape+pair+interface [none]" in text and "shape+pair+interface [b]" in text and "3 complexes" in text
    assert json.loads((out / "summary.json").read_text())["base"] == "shape+pair"
    assert (out / "success.png").stat().st_size > 0 and "dock-compare" in (out / "command.txt").read_text()
    with open(out / "rows.csv") as f:
        assert len(list(csv.DictReader(f))) == 9 * 3 + 3
