"""Comparison tables by hand: spreads over folds and over seeds kept apart, paired gains, bootstrap intervals."""
from __future__ import annotations

import numpy as np
import pytest

from intergraph.train.compare import bootstrap_gain, gain_lines, paired_differences, spreads, summary_lines


def rows_of(values: dict[tuple[str, int], tuple[float, ...]]) -> list[dict]:
    return [{"encoder": "gvp", "plm": arm, "seed": seed, "fold": f, "parameters": 10, "auroc": v}
            for (arm, seed), vs in values.items() for f, v in enumerate(vs)]


AUROC = {("none", 0): (0.60, 0.70), ("none", 1): (0.50, 0.60),
         ("esm", 0): (0.80, 0.70), ("esm", 1): (0.90, 0.60)}


def test_spreads_by_hand():
    rows = rows_of(AUROC)
    none = spreads([r for r in rows if r["plm"] == "none"], "auroc")
    # seed 0: 0.60, 0.70 (mean 0.65, sd 0.05); seed 1: 0.50, 0.60 (0.55, 0.05)
    assert none["mean"] == pytest.approx(0.60) and none["sd_folds"] == pytest.approx(0.05)
    assert none["sd_seeds"] == pytest.approx(0.05)  # fold means 0.65 and 0.55
    esm = spreads([r for r in rows if r["plm"] == "esm"], "auroc")
    # seed 0: 0.80, 0.70 (0.75, sd 0.05); seed 1: 0.90, 0.60 (0.75, sd 0.15): folds 0.10, seeds 0
    assert esm["mean"] == pytest.approx(0.75) and esm["sd_folds"] == pytest.approx(0.10)
    assert esm["sd_seeds"] == pytest.approx(0.0)
    one_fold = spreads([{"seed": 0, "fold": 0, "m": 1.0}, {"seed": 1, "fold": 0, "m": 3.0}], "m")
    assert np.isnan(one_fold["sd_folds"]) and one_fold["sd_seeds"] == pytest.approx(1.0)
    lines, table = summary_lines(rows, {"auroc": False})
    assert "| gvp | none | 2 × 2 | 10 | 0.600 ± 0.050 ± 0.050 |" in lines
    assert "| gvp | esm | 2 × 2 | 10 | 0.750 ± 0.100 ± 0.000 |" in lines


def test_paired_differences_are_signed_so_that_positive_is_better():
    rows = rows_of(AUROC)
    d = paired_differences([r for r in rows if r["plm"] == "esm"], [r for r in rows if r["plm"] == "none"],
                           "auroc", lower_is_better=False)
    assert [round(x["auroc"], 6) for x in d] == [0.2, 0.0, 0.4, 0.0]
    rmsd = [{"seed": 0, "fold": 0, "crmsd": 12.0}]
    assert paired_differences(rmsd, [{"seed": 0, "fold": 0, "crmsd": 14.0}], "crmsd", True)[0]["crmsd"] == 2.0


def test_bootstrap_interval_by_hand():
    # two items with gains 0 and 1: the observed gain is 0.5; a resample of two items has mean 0 (1/4), 0.5 (1/2)
    # or 1 (1/4), so the 2.5 % and 97.5 % percentiles are 0 and 1
    arm, base = {0: {"a": 0.5, "b": 1.5}}, {0: {"a": 0.5, "b": 0.5}}
    g = bootstrap_gain(arm, base)
    assert (g["gain"], g["low"], g["high"], g["items"]) == (0.5, 0.0, 1.0, 2)
    # lower is better: the sign flips; the same gain on every item has a zero-width interval
    same = bootstrap_gain({0: {"a": 1.0, "b": 2.0}}, {0: {"a": 3.0, "b": 4.0}}, higher_is_better=False)
    assert (same["gain"], same["low"], same["high"]) == (2.0, 2.0, 2.0)
    # seeds: the gain is their mean; items missing from one seed are left out
    two = bootstrap_gain({0: {"a": 1.0, "b": 1.0}, 1: {"a": 3.0}}, {0: {"a": 0.0, "b": 0.0}, 1: {"a": 0.0}})
    assert (two["gain"], two["items"]) == (2.0, 1)


def test_bootstrap_pearson_statistic():
    x = np.arange(10.0)
    arm = {0: {str(i): (v, v) for i, v in enumerate(x)}}            # perfect predictions: r = 1
    base = {0: {str(i): (v, (-1) ** i) for i, v in enumerate(x)}}   # unrelated predictions
    g = bootstrap_gain(arm, base, "pearson")
    r = np.corrcoef(x, [(-1) ** i for i in range(10)])[0, 1]
    assert g["gain"] == pytest.approx(1 - r) and g["low"] <= g["gain"] <= g["high"]


def test_gain_table_reads_items_and_counts_improved_pairs():
    rows = rows_of(AUROC)
    items = {"none": {"a": 0.5, "b": 0.5}, "esm": {"a": 0.5, "b": 1.5}}
    lines, gains = gain_lines(rows, {"auroc": False}, lambda r: {k: [v] for k, v in items[r["plm"]].items()},
                              "per-complex AUROC", "mean", True)
    # pair gains +0.2, 0 (seed 0: +0.1, sd 0.1), +0.4, 0 (seed 1: +0.2, sd 0.2): ± folds 0.15, ± seeds 0.05
    assert "| gvp | esm | 4 | +0.150 ± 0.150 ± 0.050 | 2/4 | +0.500 [+0.000, +1.000] (2) |" in lines
    assert gains[0]["improved"] == 2 and gains[0]["item_gain"] == 0.5


def test_interval_of_one_arm_by_hand():
    from intergraph.train.compare import interval_lines

    rows = [{"encoder": "gvp", "plm": "none", "seed": 0, "fold": 0}]
    lines = interval_lines(rows, lambda r: {"a": [0.0], "b": [1.0]}, "per-complex AUROC", "mean")
    assert lines[-1] == "| gvp | none | 0.500 [0.000, 1.000] (2) |"
    assert bootstrap_gain({0: {"a": 2.0}}, None)["gain"] == 2.0
