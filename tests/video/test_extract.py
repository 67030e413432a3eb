"""Feature extraction at scale on real data: the 13 Something-Something V2 clips with Something-Else boxes
(text and official JSON lists), the 4 generic video files with grid boxes, a corrupt file skipped and
reported, a resumed extraction, and a search trained on the stored features alone."""
from __future__ import annotations

import csv
import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from intergraph.cli import app
from intergraph.video.store import load_store

runner = CliRunner()


@pytest.fixture(scope="module")
def ssv2_folder(data_root, tmp_path_factory):
    """The shared clips arranged as a user's SSv2 folder: official labels.json, a paper-style train list, an
    official JSON list for val, frame folders and the Something-Else annotations."""
    src = data_root / "video"
    root = tmp_path_factory.mktemp("ssv2")
    shutil.copy(src / "ssv2" / "something-something-v2-labels.json", root / "labels.json")
    (root / "frames").symlink_to((src / "something_else" / "frames").resolve())
    (root / "annotations.json").symlink_to((src / "something_else" / "annotations.json").resolve())
    rows = list(csv.DictReader(open(src / "something_else" / "labels.csv")))
    train, val, test = rows[:9], rows[9:11], rows[11:]
    (root / "train.txt").write_text("".join(f"{r['video_id']} {r['num_frames']} {r['label_idx']}\n" for r in train))
    (root / "val.json").write_text(json.dumps([{"id": r["video_id"], "template": r["template"].replace(
        "something", "[something]", 1), "placeholders": []} for r in val]))
    (root / "test.txt").write_text("".join(f"{r['video_id']} {r['num_frames']} {r['label_idx']}\n" for r in test))
    return root, rows


def test_extract_then_search_on_stored_features(ssv2_folder, tmp_path):
    root, rows = ssv2_folder
    store = tmp_path / "store"
    args = ["video", "extract", "--data", str(root), "--out", str(store), "--frames", "8", "--missing", "carry",
            "--test-clips", "3", "--train-clips", "2"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    fs = load_store(store)
    # 2 augmented clips of each of the 9 training videos, 3 clips of each of the 2 val and 2 test videos;
    # small3d halves time (8 -> 4)
    assert len(fs) == 18 + 12 and fs.shape["frames"] == 4 and len(fs.meta["classes"]) == 174
    assert [len(fs.meta["splits"][s]) for s in ("train", "val", "test")] == [18, 6, 6]
    by_id = {r["video_id"]: int(r["label_idx"]) for r in rows}
    assert all(int(fs.labels[i]) == by_id[v.split("#")[0]] for i, v in enumerate(fs.ids))  # no flip-pair class
    assert not torch.equal(fs.objects[0], fs.objects[1])  # two augmented clips of one training video differ
    assert not torch.equal(fs.objects[18], fs.objects[19])  # clips 0 and 1 of one test video differ
    assert fs.mask.any(dim=(1, 2)).all()
    before = {p.name: p.stat().st_mtime_ns for p in (store / "videos").iterdir()}
    assert runner.invoke(app, args).exit_code == 0  # resumed: nothing recomputed
    assert {p.name: p.stat().st_mtime_ns for p in (store / "videos").iterdir()} == before
    res = runner.invoke(app, ["video", "search", "--features", str(store), "--out", str(tmp_path / "run"),
                              "--epochs", "1", "--warmup", "0", "--no-baselines", "--width", "16"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "summary.md").exists()
    structures = json.loads((tmp_path / "run" / "runs" / "adaptive" / "structures.json").read_text())
    assert len(structures) == 6  # one derived structure per test clip
    predictions = (tmp_path / "run" / "runs" / "adaptive" / "predictions.csv").read_text().splitlines()
    assert len(predictions) == 1 + 2  # scores averaged over each test video's clips
    res = runner.invoke(app, ["video", "evaluate", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    stored = json.loads((tmp_path / "run" / "runs" / "adaptive" / "metrics.json").read_text())
    assert "2 test videos" in text and f"top-1 {stored['test/top1']:.4f}, top-5 {stored['test/top5']:.4f}" in text


def test_video_files_with_grid_boxes_and_a_corrupt_file(data_root, tmp_path):
    clips = data_root / "video" / "clips"
    root = tmp_path / "ds"
    (root / "videos").mkdir(parents=True)
    (root / "labels.csv").write_text("arm wrestling\nflipping pancake\n")
    for name, vid in (("demo.mp4", "a"), ("test.mp4", "b"), ("test.avi", "c"), ("flipping_a_pancake.mkv", "d")):
        (root / "videos" / f"{vid}{name[name.index('.'):]}").symlink_to(clips.resolve() / name)
    (root / "videos" / "e.mp4").write_bytes((clips / "test.mp4").read_bytes()[:2000])
    (root / "train.txt").write_text("a 0 0\nb 0 0\ne 0 1\n")
    (root / "val.txt").write_text("c 0 0\n")
    (root / "test.txt").write_text("d 0 1\n")
    res = runner.invoke(app, ["video", "extract", "--data", str(root), "--out", str(tmp_path / "store"),
                              "--boxes", "grid", "--frames", "4"])
    assert res.exit_code == 0, res.output
    assert "skipped video e" in res.output and "e.mp4" in res.output
    fs = load_store(tmp_path / "store")
    assert fs.ids == ["a", "b", "c", "d"] and fs.mask.all()
    index = json.loads((tmp_path / "store" / "index.json").read_text())
    assert [s[0] for s in index["skipped"]] == ["e"]


def test_proposals_with_user_weights_then_extract(data_root, tmp_path):
    """A randomly initialised torchvision detector stands in for trained weights (none exist offline)."""
    import torch
    import torchvision.models.detection as det

    src = data_root / "video" / "something_else" / "frames"
    root = tmp_path / "ds"
    (root / "frames").mkdir(parents=True)
    for vid in ("2", "4", "862"):
        (root / "frames" / vid).mkdir()
        for k in range(1, 6):  # five frames each keeps the detector cheap on a CPU
            shutil.copy(src / vid / f"{k:04d}.jpg", root / "frames" / vid)
    (root / "labels.csv").write_text("a\nb\n")
    (root / "train.txt").write_text("2 5 0\n")
    (root / "val.txt").write_text("4 5 1\n")
    (root / "test.txt").write_text("862 5 0\n")
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    res = runner.invoke(app, ["video", "proposals", "--data", str(root), "--detector", name])
    assert res.exit_code == 2 and "no weights" in res.output and "--boxes grid" in res.output
    torch.manual_seed(0)
    torch.save(getattr(det, name)(weights=None, weights_backbone=None).state_dict(), tmp_path / "det.pt")
    res = runner.invoke(app, ["video", "proposals", "--data", str(root), "--detector", name, "--weights",
                              str(tmp_path / "det.pt"), "--top", "4"])
    assert res.exit_code == 0, res.output
    table = json.loads((root / "proposals.json").read_text())
    assert sorted(table) == ["2", "4", "862"]
    for frames in table.values():  # the paper's format: per frame, boxes normalised to [0, 1]
        assert len(frames) == 5 and all(len(f) <= 4 for f in frames)
        boxes = [b for f in frames for b in f]
        assert boxes and all(0 <= v <= 1 for b in boxes for v in b)
        assert all(b[0] <= b[2] and b[1] <= b[3] for b in boxes)
    res = runner.invoke(app, ["video", "extract", "--data", str(root), "--out", str(tmp_path / "store"),
                              "--boxes", "proposals", "--frames", "4"])
    assert res.exit_code == 0, res.output
    assert load_store(tmp_path / "store").mask.any()


def test_synthetic_layout_goes_through_the_same_extraction(tmp_path):
    from intergraph.video.something import write_synthetic
    from intergraph.video.synthetic import SyntheticConfig

    root = write_synthetic(tmp_path / "synth", 22, SyntheticConfig(frames=8, size=96))
    res = runner.invoke(app, ["video", "extract", "--data", str(root), "--out", str(tmp_path / "store"),
                              "--frames", "8", "--size", "96"])
    assert res.exit_code == 0, res.output
    fs = load_store(tmp_path / "store")
    assert len(fs) == 22 and fs.mask.any(dim=(1, 2)).all()
