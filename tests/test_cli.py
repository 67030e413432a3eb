"""The command line: help everywhere, info, batch featurization with bad files and resume, demo, fetch."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import urllib.error

import pytest
from typer.testing import CliRunner

from intergraph import fetch as fetch_module
from intergraph.cli import app
from intergraph.graph.io import load_graph

runner = CliRunner()


@pytest.mark.parametrize("args", [[], ["info"], ["demo"], ["data"], ["data", "fetch"], ["protein"],
                                  ["protein", "featurize"], ["protein", "train"], ["protein", "evaluate"],
                                  ["protein", "predict"], ["protein", "compare"], ["protein", "tasks"],
                                  ["protein", "dock"], ["plm"], ["plm", "embed"], ["video"], ["video", "synth"],
                                  ["video", "search"], ["video", "arms"]])
def test_help_on_every_command(args):
    result = runner.invoke(app, args + ["--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_info_lists_versions_device_and_datasets(data_root, monkeypatch):
    monkeypatch.setenv("INTERGRAPH_DATA", str(data_root))
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for word in ("torch", "gemmi", "device", "db5", "esm2_650m_db5"):
        assert word in result.output
    assert "missing" not in result.output.split("db5", 1)[1].split("\n", 1)[0]


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "intergraph", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "protein" in out.stdout


@pytest.fixture
def mixed_inputs(tmp_path, db5_root):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(db5_root / "structures" / "1AVX_r_b.pdb.gz", src)
    shutil.copy(db5_root / "structures" / "1AVX_l_b.pdb.gz", src / "sub")
    (src / "empty.pdb").write_text("")
    (src / "junk.cif").write_text("data_x\n_cell.length_a 1\n")
    (src / "notes.txt").write_text("not a structure, not even looked at")
    return src


def test_featurize_skips_bad_files_reports_them_and_resumes(mixed_inputs, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["protein", "featurize", str(mixed_inputs), str(tmp_path / "missing.pdb"),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 written" in result.output and "3 failed" in result.output
    for word in ("empty.pdb", "empty file", "junk.cif", "no coordinates", "missing.pdb", "no such file"):
        assert word in result.output, word
    g = load_graph(out / "1AVX_r_b.pt")
    assert g.num_nodes == 223 and g.name == "1AVX_r_b"
    manifest = [json.loads(l) for l in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(m["output"] for m in manifest) == ["1AVX_l_b", "1AVX_r_b"]

    again = runner.invoke(app, ["protein", "featurize", str(mixed_inputs), "--out", str(out)])
    assert again.exit_code == 0 and "0 written, 2 already done" in again.output

    # a different graph definition is not "already done"
    knn = runner.invoke(app, ["protein", "featurize", str(mixed_inputs), "--out", str(out), "--edges", "knn",
                              "--k", "8"])
    assert "2 written" in knn.output
    assert load_graph(out / "1AVX_r_b.pt").num_edges == 8 * 223


def test_featurize_resumes_after_an_interrupted_run(mixed_inputs, tmp_path):
    out = tmp_path / "out"
    runner.invoke(app, ["protein", "featurize", str(mixed_inputs / "1AVX_r_b.pdb.gz"), "--out", str(out)])
    with open(out / "manifest.jsonl", "a") as f:
        f.write('{"output": "half a li')  # a crash mid-write
    result = runner.invoke(app, ["protein", "featurize", str(mixed_inputs), "--out", str(out)])
    assert "1 written, 1 already done" in result.output


def test_featurize_exits_1_when_nothing_was_processed(tmp_path):
    (tmp_path / "bad.pdb").write_bytes(b"\x00\x01binary")
    result = runner.invoke(app, ["protein", "featurize", str(tmp_path / "bad.pdb"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "binary data" in result.output
    assert "Traceback" not in result.output


def test_demo_runs_on_the_test_split(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERGRAPH_DATA", str(data_root))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--no-comparison", "--no-video"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "demo" / "db5_summary.json").read_text())
    assert summary["complexes"] == 25
    assert all(0 < r["interface_ca8"] < r["interface_heavy6"] < 0.5 for r in summary["rows"])


def test_missing_data_is_one_line_with_the_remedy(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERGRAPH_DATA", str(tmp_path / "nowhere"))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 2
    assert str(tmp_path / "nowhere" / "db5") in result.output
    assert "intergraph data fetch db5 --to DIR" in result.output
    assert "Traceback" not in result.output


def test_fetch_offline_fails_clearly(tmp_path, monkeypatch):
    def offline(url, timeout=60.0):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", offline)
    result = runner.invoke(app, ["data", "fetch", "db5", "--to", str(tmp_path)])
    assert result.exit_code == 2
    assert "offline" in result.output and "Traceback" not in result.output
    assert not any((tmp_path / "db5").rglob("*.pdb.gz"))


def _mirror(db5_root):
    """Serve the manifest's source paths from the local copy, as the remote host would."""
    def opener(url: str) -> bytes:
        rel = url.split("/data/benchmark5.5/", 1)[1]
        if rel.startswith("structures/"):
            return gzip.decompress((db5_root / (rel + ".gz")).read_bytes())
        if rel.startswith("cv/cv_0/"):
            return (db5_root / "splits" / rel.split("/")[-1]).read_bytes()
        return (db5_root / rel).read_bytes()
    return opener


def test_fetch_verifies_checksums_and_resumes(db5_root, tmp_path):
    root, got, kept = fetch_module.fetch("db5", tmp_path, opener=_mirror(db5_root))
    assert got == 1090 and kept == 0
    from intergraph.protein.db5 import DB5

    ds = DB5(root, split="test")
    assert len(ds) == 25 and ds["7CEI"].receptor.num_nodes == 87
    (root / "structures" / "7CEI_l_b.pdb.gz").write_bytes(b"damaged")
    _, got, kept = fetch_module.fetch("db5", tmp_path, opener=_mirror(db5_root))
    assert got == 1 and kept == 1089


def test_fetch_rejects_a_corrupted_download(db5_root, tmp_path):
    good = _mirror(db5_root)

    def tampered(url):
        data = good(url)
        return data.replace(b"ATOM", b"ATOX", 1) if "1A2K_l_b" in url else data

    with pytest.raises(fetch_module.FetchError, match="checksum mismatch"):
        fetch_module.fetch("db5", tmp_path, opener=tampered)
    assert not (tmp_path / "db5" / "structures" / "1A2K_l_b.pdb.gz").exists()


def test_video_synth_then_search_end_to_end(tmp_path):
    data, out = tmp_path / "synth", tmp_path / "run"
    result = runner.invoke(app, ["video", "synth", "--out", str(data), "--n", "33", "--frames", "8"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["video", "search", "--data", str(data), "--out", str(out), "--epochs", "1",
                                 "--width", "16", "--no-baselines"])
    assert result.exit_code == 0, result.output
    assert "| adaptive |" in (out / "summary.md").read_text()
    for rel in ("results.csv", "runs/adaptive/usage.png", "runs/adaptive/examples.png", "runs/adaptive/config.yaml",
                "runs/adaptive/predictions.csv",
                "runs/adaptive/metrics.csv", "runs/adaptive/checkpoints/last.ckpt"):
        assert (out / rel).exists(), rel
    structures = json.loads((out / "runs" / "adaptive" / "structures.json").read_text())
    assert len(structures) == 5 and all("zero" not in str(s["structure"]["cells"]) for s in structures)
    # a derived structure, exported, trains as a fixed network
    (tmp_path / "s.json").write_text(json.dumps(structures[0]["structure"]))
    result = runner.invoke(app, ["video", "search", "--data", str(data), "--out", str(tmp_path / "fixed"),
                                 "--epochs", "1", "--width", "16", "--fixed", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    assert "| derived |" in (tmp_path / "fixed" / "summary.md").read_text()
    # trained on straight-through Gumbel samples: the setting reaches the run's config
    result = runner.invoke(app, ["video", "search", "--data", str(data), "--out", str(tmp_path / "gumbel"),
                                 "--epochs", "1", "--width", "16", "--no-baselines", "--gumbel", "0.5",
                                 "--gumbel-from", "1"])
    assert result.exit_code == 0, result.output
    held = (tmp_path / "gumbel" / "runs" / "adaptive" / "config.yaml").read_text()
    assert "gumbel: 0.5" in held and "gumbel_from: 1" in held


def test_video_search_reports_bad_input(tmp_path):
    result = runner.invoke(app, ["video", "search", "--data", str(tmp_path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "labels.json" in result.output
    result = runner.invoke(app, ["video", "search", "--out", str(tmp_path / "r"), "--ops", "zero,warp"])
    assert result.exit_code == 2 and "unknown graph operation 'warp'" in result.output


def test_tasks_are_listed_from_the_registry_with_their_settings():
    result = runner.invoke(app, ["protein", "tasks"])
    assert result.exit_code == 0, result.output
    for text in ("interface:", "docking:", "qa:", "affinity:", "docking.keypoints", "quality.surface_per_target",
                 "affinity.radius", "val/auroc"):
        assert text in result.output, text


def test_bad_settings_are_one_line_and_bugs_keep_their_traceback(tmp_path, monkeypatch):
    result = runner.invoke(app, ["protein", "train", "--out", str(tmp_path / "r"), "--set", "docking.keypoints=4"])
    assert result.exit_code == 2 and "no section 'docking'" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["protein", "train", "--task", "docking", "--out", str(tmp_path / "r"), "--set",
                                 "docking.keypoints=many"])
    assert result.exit_code == 2 and "expected int" in result.output
    result = runner.invoke(app, ["protein", "train", "--task", "sideways", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "unknown task 'sideways'" in result.output

    def broken(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr("intergraph.protein.run.train", broken)
    result = runner.invoke(app, ["protein", "train", "--out", str(tmp_path / "r")])
    assert isinstance(result.exception, RuntimeError)  # not swallowed into a one-line message


def test_video_synth_families_with_probes_and_group_aware_folder(tmp_path):
    data = tmp_path / "families"
    result = runner.invoke(app, ["video", "synth", "--out", str(data), "--n", "60", "--benchmark", "families",
                                 "--check"])
    assert result.exit_code == 0, result.output
    probes = json.loads((data / "probes.json").read_text())
    assert set(probes["families"]) == {"motion", "place", "crowd"} and probes["family_from_descriptor"] >= 0.8
    assert "label from the boxes" in result.output
    from intergraph.video.experiment import VideoDataConfig, folder_features

    fs, split = folder_features(VideoDataConfig(source=str(data)), progress=False)
    assert fs.group_names == ["motion", "place", "crowd"] and fs.groups() is not None
    result = runner.invoke(app, ["video", "synth", "--out", str(tmp_path / "c"), "--n", "11", "--check"])
    assert result.exit_code == 2 and "--benchmark families" in result.output
