"""Real video input: PyAV decoding of the four clips, frame folders, sampling, box-aware transforms, the
Something-Else boxes of the 13 Something-Something V2 clips (with their unannotated frames), and the whole
path from frames to a derived structure per clip."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from intergraph.video.io import FrameFolder, VideoDataError, open_video
from intergraph.video.sampling import clip_indices, train_indices
from intergraph.video.something import boxes_of
from intergraph.video.transforms import ClipTransform

CLIPS = {"demo.mp4": (280, 256, 340), "test.mp4": (300, 256, 340), "test.avi": (164, 240, 320),
         "flipping_a_pancake.mkv": (310, 240, 426)}  # frames, height, width (data README)


@pytest.fixture(scope="module")
def video_root(data_root):
    return data_root / "video"


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_video_files_decode(video_root, name):
    v = open_video(video_root / "clips" / name)
    n, h, w = CLIPS[name]
    assert v.num_frames == n
    frames = v.read([0, n // 2, n - 1])
    assert frames.shape == (3, h, w, 3) and frames.dtype == np.uint8 and frames.std() > 5
    assert v._frames is None  # nothing kept unless asked
    v.cache_frames()
    np.testing.assert_array_equal(v.read([0, n // 2, n - 1]), frames)


def test_bad_video_files_get_clear_errors(video_root, tmp_path):
    data = (video_root / "clips" / "test.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:3000])  # truncated: header only
    (tmp_path / "text.mp4").write_text("not a video\n")
    for name in ("cut.mp4", "text.mp4"):
        with pytest.raises(VideoDataError, match=name):
            open_video(tmp_path / name)
    with pytest.raises(VideoDataError, match="not a frame folder nor a video"):
        open_video(tmp_path / "x.txt")
    v = open_video(video_root / "clips" / "test.avi")
    with pytest.raises(VideoDataError, match="frame 500 requested of 164"):
        v.read([500])


def test_frame_folders_templates_and_missing_frames(video_root, tmp_path):
    src = video_root / "something_else" / "frames" / "2"
    v = open_video(src)
    assert v.num_frames == 48 and v.read([0, 47]).shape == (2, 240, 427, 3)
    other = tmp_path / "v"
    other.mkdir()
    for k in range(5):  # %05d names starting at 0, as some tools write them
        shutil.copy(src / f"{k + 1:04d}.jpg", other / f"{k:05d}.jpg")
    w = FrameFolder(other, "%05d.jpg", start=0)
    assert w.num_frames == 5
    np.testing.assert_array_equal(w.read([3]), v.read([3]))
    (other / "00002.jpg").unlink()
    with pytest.raises(VideoDataError, match="frame 00002.jpg is missing"):
        FrameFolder(other, "%05d.jpg", start=0, num_frames=5).read(range(5))
    (other / "00003.jpg").write_text("broken")
    with pytest.raises(VideoDataError, match="00003.jpg: unreadable frame"):
        FrameFolder(other, "%05d.jpg", start=0, num_frames=5).read([3])


def test_official_json_lists_and_unknown_classes(video_root, tmp_path):
    from intergraph.video.something import read_labels, read_split

    classes = read_labels(video_root / "ssv2" / "something-something-v2-labels.json")
    (tmp_path / "val.json").write_text(json.dumps([
        {"id": "3201", "template": "Pushing [something] from left to right", "placeholders": ["a cup"]}]))
    assert read_split(tmp_path / "val.json", len(classes), classes) == [("3201", None, 93)]
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "7", "template": "Juggling [something]"}]))
    with pytest.raises(VideoDataError, match="video 7: class 'Juggling \\[something\\]' is not in the label file"):
        read_split(tmp_path / "bad.json", len(classes), classes)
    (tmp_path / "v1.csv").write_text("Holding something\nTurning something upside down\n")
    assert read_labels(tmp_path / "v1.csv") == ["Holding something", "Turning something upside down"]


def test_sampling():
    rng = np.random.default_rng(0)
    idx = train_indices(48, 8, rng)
    assert (np.diff(idx) >= 0).all() and ((idx // 6) == np.arange(8)).all()  # one frame in each segment
    assert not np.array_equal(idx, train_indices(48, 8, rng))  # jitter
    np.testing.assert_array_equal(train_indices(48, 8, np.random.default_rng(5)),
                                  train_indices(48, 8, np.random.default_rng(5)))
    clips = clip_indices(48, 8, 5)
    assert len({tuple(c) for c in clips}) == 5 and all(((c // 6) == np.arange(8)).all() for c in clips)
    assert train_indices(3, 8, rng).max() <= 2  # short videos repeat frames


def square_video(h=240, w=320, x=200):
    frames = np.zeros((4, h, w, 3), np.uint8)
    frames[:, 40:100, x:x + 80] = 255  # a white object...
    boxes = np.tile(np.array([[x, 40, x + 80, 100], [0, 0, 0, 0]], np.float32), (4, 1, 1))
    mask = np.tile(np.array([True, False]), (4, 1))
    return frames, boxes, mask


def test_boxes_follow_the_content_through_random_crops_and_flips():
    frames, boxes, mask = square_video()
    tr = ClipTransform(size=112, train=True)
    rng = np.random.default_rng(1)
    for _ in range(20):
        video, b, m, _ = tr(frames, boxes, mask, 0, rng)
        assert video.shape == (3, 4, 112, 112) and not m[:, 1].any()
        if m[0, 0]:
            x1, y1, x2, y2 = np.round(b[0, 0]).astype(int)
            inside = video[0, 0, y1 + 1:y2 - 1, x1 + 1:x2 - 1]
            assert inside.numel() == 0 or inside.mean() > 0.95  # ...stays inside its box
            outside = video[0, 0].clone()
            outside[max(y1 - 1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1] = 0
            assert outside.max() < 0.3


def test_flip_mirrors_x_only_and_swaps_direction_labels():
    frames, boxes, mask = square_video(w=240, x=130)  # square frames: every crop of scale 1 is the same
    plain = ClipTransform(size=112)
    video, b, m, _ = plain(frames, boxes, mask, 86)
    flips = {"swap": None, "skip": None}
    for mode in flips:
        tr = ClipTransform(size=112, train=True, scales=(1.0,), flip=mode)
        seen = set()
        for seed in range(20):
            rng = np.random.default_rng(seed)
            v2, b2, m2, label = tr(frames, boxes, mask, 86, rng)
            seen.add(label)
            if not torch.equal(v2, video):  # flipped (the crop is the same central square)
                torch.testing.assert_close(v2, video.flip(-1))
                np.testing.assert_allclose(b2[..., [1, 3]], b[..., [1, 3]])  # y untouched
                np.testing.assert_allclose(b2[m][:, 0], 112 - b[m][:, 2], atol=1e-4)
                assert (m2 == m).all() and not b2[~m].any()
                assert label == 87
        flips[mode] = seen
    assert flips["swap"] == {86, 87} and flips["skip"] == {86}
    # an ordinary class flips and keeps its label
    tr = ClipTransform(size=112, train=True, scales=(1.0,))
    labels = {tr(frames, boxes, mask, 5, np.random.default_rng(s))[3] for s in range(10)}
    assert labels == {5}


def test_boxes_outside_the_image_are_clipped_or_masked():
    frames, boxes, mask = square_video()
    boxes = boxes.copy()
    boxes[:, 1] = [250, 50, 400, 90]  # partly outside the frame (width 320) and the central crop (40..280)
    boxes[:, 0] = [-50, -30, -10, -5]  # wholly outside
    mask = np.ones((4, 2), bool)
    _, b, m, _ = ClipTransform(size=112)(frames, boxes, mask, 0)
    assert not m[:, 0].any() and m[:, 1].all()
    assert (b[:, 1, 2] <= 112).all() and (b[:, 1, 0] < b[:, 1, 2]).all()


@pytest.fixture(scope="module")
def something_else(video_root):
    root = video_root / "something_else"
    rows = list(csv.DictReader(open(root / "labels.csv")))
    return root, rows, json.loads((root / "annotations.json").read_text())


def test_unannotated_frames_masked_or_carried(something_else):
    root, rows, ann = something_else
    frames = {r["video_id"]: int(r["num_frames"]) for r in rows}
    for vid, gap in (("22983", range(52, 64)), ("151201", range(23, 33))):
        b, m = boxes_of(ann[vid], frames[vid], vid, missing="mask")
        assert not m[list(gap)].any() and m[: gap[0]].any()
        b2, m2 = boxes_of(ann[vid], frames[vid], vid, missing="carry")
        last = gap[0] - 1
        for k in range(b.shape[1]):
            if m[last, k]:
                assert m2[list(gap), k].all() and (b2[list(gap), k] == b[last, k]).all()
        np.testing.assert_array_equal(b2[m], b[m])  # annotated frames untouched


def test_whole_path_on_the_real_clips(something_else):
    """Decode, sample, transform, nodes, one forward and backward pass of the search model, one derived
    structure per clip."""
    from intergraph.video.graph import VideoGraph
    from intergraph.video.model import InteractionModel, VideoModelConfig
    from intergraph.video.nodes import NodeConfig, NodeExtractor

    root, rows, ann = something_else
    assert len(rows) == 13
    tr = ClipTransform(size=112, train=True)
    rng = np.random.default_rng(0)
    videos, boxes, masks, labels = [], [], [], []
    for r in rows:
        n = int(r["num_frames"])
        v = open_video(root / "frames" / r["video_id"], num_frames=n)
        idx = train_indices(n, 8, rng)
        b, m = boxes_of(ann[r["video_id"]], n, r["video_id"], missing="carry")
        k = 4
        b4, m4 = np.zeros((8, k, 4), np.float32), np.zeros((8, k), bool)
        b4[:, :b.shape[1]], m4[:, :b.shape[1]] = b[idx][:, :k], m[idx][:, :k]
        video, bb, mm, label = tr(v.read(idx), b4, m4, int(r["label_idx"]), rng)
        videos.append(video)
        boxes.append(torch.from_numpy(bb))
        masks.append(torch.from_numpy(mm))
        labels.append(label)
    torch.manual_seed(0)
    extractor = NodeExtractor(NodeConfig(backbone="small3d", nodes_per_frame=4))
    g = extractor(torch.stack(videos), torch.stack(boxes), torch.stack(masks))
    assert g.mask.any(dim=(1, 2)).all()  # every clip has object nodes
    cfg = VideoModelConfig(in_channels=extractor.out_channels, width=32, frames=g.objects.shape[1],
                           nodes_per_frame=4, background_per_frame=g.background.shape[2], classes=174)
    model = InteractionModel(cfg)
    out = model(VideoGraph(g.objects.detach(), g.background.detach(), g.layout, g.mask))
    loss = torch.nn.functional.cross_entropy(out.logits, torch.tensor(labels))
    loss.backward()
    assert torch.isfinite(loss) and any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    structures = model.derived_structures(VideoGraph(g.objects.detach(), g.background.detach(), g.layout, g.mask))
    assert len(structures) == 13


def test_flip_pairs_found_by_name_are_the_ssv2_list(video_root):
    from intergraph.video.something import read_labels
    from intergraph.video.transforms import SSV2_FLIP_PAIRS, flip_pairs

    classes = read_labels(video_root / "ssv2" / "something-something-v2-labels.json")
    assert flip_pairs(classes) == SSV2_FLIP_PAIRS
    assert flip_pairs(["Pushing x from left to right", "Pushing x from right to left", "Upright"]) == {0: 1}
