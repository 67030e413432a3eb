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


def test_figures_draw_one_panel_per_pool_or_run(data_root, tmp_path):
    import matplotlib.image as mpimg

    from intergraph.protein.task_compare import plot_task

    run = tmp_path / "run"
    run.mkdir()
    (run / "test_scores.csv").write_text("complex,crmsd,irmsd\n1AVX,1.0,0.5\n7CEI,2.0,1.5\n")
    (run / "predictions_test.csv").write_text("target,decoy,dockq,pred_dockq\nA,a1,0.9,0.7\nA,a2,0.1,0.2\n")
    (run / "predictions.csv").write_text("id,pK,predicted\n1a61,8.6,5.9\n1eve,8.2,6.0\n")
    rows = [{"encoder": "gvp", "plm": plm, "pool": pool, "seed": 0, "run": str(run)}
            for pool in ("all", "esm2_650m") for plm in ("none", "default")]
    shapes = {task: mpimg.imread(plot_task(task, rows, tmp_path / f"{task}.png")).shape[:2]
              for task in ("docking", "qa", "affinity")}
    assert shapes["docking"] == (864, 1200)  # 2 pools x (CRMSD, IRMSD) at 120 dpi
    assert shapes["qa"] == shapes["affinity"] == (456, 4 * 456)  # one scatter per run
