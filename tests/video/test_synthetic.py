import json

import numpy as np
import pytest

from intergraph.video.something import VideoDataError, boxes_of, folder_videos, read_labels, read_split, write_synthetic
from intergraph.video.synthetic import CLASSES, FLIP_LABELS, SyntheticConfig, render, splits


def test_videos_are_deterministic_and_independent_of_dataset_size():
    a, b = render(17), render(17)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes)
    assert not np.array_equal(render(17, SyntheticConfig(seed=1)).frames, a.frames)
    assert a.frames.shape == (16, 112, 112, 3) and a.frames.dtype == np.uint8
    assert a.label == 17 % len(CLASSES)


@pytest.mark.parametrize("label", range(len(CLASSES)))
def test_ground_truth_boxes_describe_the_motion(label):
    v = render(label + 11 * 5)
    assert v.label == label
    boxes = v.boxes
    assert (boxes[..., 0] <= boxes[..., 2]).all() and (boxes[..., 2] <= 112).all() and (boxes[..., :2] >= 0).all()
    ca, cb = ((v.track(r)[:, :2] + v.track(r)[:, 2:]) / 2 for r in ("A", "B"))
    dist = np.linalg.norm(ca - cb, axis=-1)
    move_a = np.linalg.norm(ca[-1] - ca[0])
    move_b = np.linalg.norm(cb[-1] - cb[0])
    name = CLASSES[label]
    if name == "A approaches B":
        assert dist[-1] < dist[0] - 10 and move_b < 1
    elif name == "A moves away from B":
        assert dist[-1] > dist[0] + 10 and move_b < 1
    elif name == "A pushes B":
        assert move_b > 5 and dist[-1] < dist[0]
    elif name in ("camera pans left", "camera pans right"):
        dx = np.array([v.track(r)[-1, 0] - v.track(r)[0, 0] for r in ("A", "B")])
        assert (np.sign(dx) == (1 if name.endswith("left") else -1)).all() and (np.abs(dx) > 20).all()
    elif name in ("A moves left", "A moves right"):
        dx = ca[-1, 0] - ca[0, 0]
        assert dx * (-1 if name.endswith("left") else 1) > 20 and move_b < 1
    elif name == "nothing happens":
        assert move_a < 1 and move_b < 1
    elif name == "A and B move together":
        assert move_a > 10 and np.ptp(dist) < 2


def test_too_small_videos_are_refused():
    with pytest.raises(ValueError, match="size >= 96"):
        SyntheticConfig(size=64)


def test_flip_map_is_an_involution_on_direction_classes():
    for k, v in FLIP_LABELS.items():
        assert FLIP_LABELS[v] == k and CLASSES[k].split()[-1] in ("left", "right")


def test_splits_are_disjoint_and_class_balanced():
    s = splits(1100)
    assert sum(len(v) for v in s.values()) == 1100 and not set(s["train"]) & set(s["test"])
    counts = np.bincount([i % len(CLASSES) for i in s["test"]], minlength=len(CLASSES))
    assert counts.max() - counts.min() <= 1


def test_folder_round_trip(tmp_path):
    root = write_synthetic(tmp_path / "synth", 22, SyntheticConfig(frames=8, size=96))
    assert read_labels(root / "labels.json") == CLASSES
    skipped = []
    videos = list(folder_videos(root, "train", skipped)) + list(folder_videos(root, "test", skipped))
    assert not skipped and len(videos) == len(splits(22)["train"]) + len(splits(22)["test"])
    for v in videos:
        ref = render(int(v.id), SyntheticConfig(frames=8, size=96))
        assert v.label == ref.label and v.mask.all()
        np.testing.assert_array_equal(v.boxes, ref.boxes)
        assert np.abs(v.frames.astype(int) - ref.frames).mean() < 8  # JPEG (noisy frames, 4:2:0 chroma)
    write_synthetic(tmp_path / "synth", 22, SyntheticConfig(frames=8, size=96))  # rerun: resumes, same files
    assert len(list((root / "frames").iterdir())) == 22


def test_bad_videos_are_skipped_and_named(tmp_path):
    root = write_synthetic(tmp_path / "s", 11, SyntheticConfig(frames=4, size=96))
    train = read_split(root / "train.txt", len(CLASSES))
    (root / "frames" / train[0][0] / "0003.jpg").unlink()
    (root / "frames" / train[1][0] / "0002.jpg").write_bytes(b"not a jpeg")
    skipped = []
    kept = list(folder_videos(root, "train", skipped))
    assert len(kept) == len(train) - 2
    assert "frame 0003.jpg is missing" in skipped[0][1] and "0002.jpg: unreadable frame" in skipped[1][1]


def test_bad_lists_and_annotations(tmp_path):
    (tmp_path / "list.txt").write_text("12 30 3\n13 30 200\n")
    with pytest.raises(VideoDataError, match="list.txt:2: label 200 of video 13 is not in the label file"):
        read_split(tmp_path / "list.txt", 174)
    (tmp_path / "list.txt").write_text("12 thirty 3\n")
    with pytest.raises(VideoDataError, match="list.txt:1: expected"):
        read_split(tmp_path / "list.txt", 174)
    with pytest.raises(VideoDataError, match="video 7: no boxes"):
        boxes_of([{"name": "7/0001.jpg", "labels": []}], 4, "7")
    (tmp_path / "labels.json").write_text(json.dumps({"a": "0", "b": "2"}))
    with pytest.raises(VideoDataError, match="class indices"):
        read_labels(tmp_path / "labels.json")


def test_frames_without_records_are_masked():
    records = [{"name": f"5/{f:04d}.jpg", "labels": [{"box2d": {"x1": 1, "y1": 2, "x2": 3, "y2": 4},
                                                       "gt_annotation": "object 0"}]} for f in (1, 2, 4)]
    boxes, mask = boxes_of(records, 4, "5")
    assert mask[:, 0].tolist() == [True, True, False, True] and boxes[2, 0].tolist() == [0, 0, 0, 0]
