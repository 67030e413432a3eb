"""The with/without-PLM tables of the docking, QA and affinity tasks: pairing and signs by hand."""
from __future__ import annotations

from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.protein.task_compare import write_task_table


def test_paired_changes_are_signed_so_that_positive_is_better(data_root, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "test_scores.csv").write_text("complex,crmsd\n1AVX,1.0\n7CEI,2.0\n")
    rows = []
    for seed, (none, plm) in enumerate([(14.0, 12.0), (16.0, 15.0)]):
        for arm, crmsd, dockq in (("none", none, 0.10), ("default", plm, 0.20)):
            rows.append({"task": "docking", "encoder": "gvp", "plm": arm, "pool": "all", "seed": seed, "run": str(run),
                         "crmsd_median": crmsd, "irmsd_median": crmsd - 2, "dockq_median": dockq, "crmsd_mean": crmsd})
    text = write_task_table("docking", rows, tmp_path).read_text()
    assert "| gvp | all | none | 2 | 15.000 ± 1.000 |" in text
    # CRMSD fell by 2 and 1 Å (better: +1.5); DockQ rose by 0.1 (better: +0.1)
    assert "| gvp | all | default | +1.500 | +1.500 | +0.100 | +1.500 |" in text
    assert (tmp_path / "results.csv").read_text().count("\n") == 5
    # EquiDock's shipped predictions on the same two test complexes, for reference
    assert "| EquiDock (shipped predictions) | all | 2 | 14.31 | 10.08 | 0.086 |" in text


def test_affinity_comparison_refuses_esm_arm(tmp_path):
    res = CliRunner().invoke(app, ["protein", "compare", "--task", "affinity", "--plm", "none,esm2_650m",
                                   "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "none and default" in res.output
