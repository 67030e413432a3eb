import numpy as np
import pytest
import torch

from intergraph.errors import InputError
from intergraph.video.graph import layout_vectors
from intergraph.video.probes import box_features, check, format_check, tracks
from intergraph.video.synthetic import SyntheticConfig, render


def layout_of(boxes: np.ndarray) -> np.ndarray:
    return layout_vectors(torch.from_numpy(boxes), 112, 112).numpy()


def test_tracks_follow_objects_through_reshuffled_columns():
    v = render(3, SyntheticConfig(benchmark="families"))  # motion, "A moves away from B": B rests, no crossing
    layout = layout_of(v.boxes)
    mask = np.ones(v.boxes.shape[:2], bool)
    tr = tracks(layout, mask)
    first = v.roles[0]
    for k, role in enumerate(first):
        truth = v.track(role)
        np.testing.assert_allclose(tr[:, k, :2], ((truth[:, :2] + truth[:, 2:]) / 2) / 112, atol=1e-6)
    rng = np.random.default_rng(0)
    perm = np.stack([rng.permutation(v.boxes.shape[1]) for _ in range(v.boxes.shape[0])])
    shuffled = np.take_along_axis(v.boxes, perm[..., None], axis=1)
    np.testing.assert_allclose(box_features(layout_of(shuffled), mask), box_features(layout, mask), atol=1e-9)


def test_probes_on_a_small_families_set():
    from intergraph.video.experiment import VideoDataConfig, synthetic_features

    fs, split = synthetic_features(VideoDataConfig(videos=90, synthetic=SyntheticConfig(benchmark="families")),
                                   progress=False)
    result = check(fs, split)
    assert all(r["label_from_key_object"] is None for r in result["families"].values())  # needs the generator
    result = check(fs, split, cfg=SyntheticConfig(benchmark="families"))
    assert result["family_from_descriptor"] >= 0.9 and result["family_chance"] < 0.5
    assert result["families"]["motion"]["label_from_key_object"] is None
    assert all(0 <= result["families"][f]["label_from_key_object"] <= 1 for f in ("place", "crowd"))
    assert set(result["families"]) == {"motion", "place", "crowd"}
    assert all(r["test_videos"] > 0 and 0 <= r["label_from_boxes"] <= 1 for r in result["families"].values())
    assert "| place |" in format_check(result)


def test_key_object_reads_the_object_the_label_is_about():
    """crowd: the odd object's node features (found through the roles, whatever the column order); place: A's
    cosine similarity to every background cell. Checked against features built so that only that object carries
    its label."""
    from intergraph.video.features import FeatureSet
    from intergraph.video.probes import key_object
    from intergraph.video.synthetic import render

    cfg = SyntheticConfig(benchmark="families")
    idx = [2, 5, 8, 11]  # crowd videos (index % 3 == 2)
    t, n, c = 8, 4, 6
    objects = torch.zeros(len(idx), t, n, c)
    labels = []
    for v, i in enumerate(idx):
        video = render(i, cfg)
        labels.append(video.label)
        for s in range(t):
            objects[v, s, video.roles[2 * s].index("odd"), 0] = 1.0 + v  # only the odd object's column
    fs = FeatureSet(objects.half(), torch.zeros(len(idx), t, 49, c).half(), torch.zeros(len(idx), t, n, 9),
                    torch.ones(len(idx), t, n, dtype=torch.bool), torch.tensor(labels),
                    [f"synth0_{i:06d}" for i in idx])
    with pytest.raises(InputError, match="not those of video"):
        key_object(fs, cfg, np.arange(len(idx)))  # layouts all zero: not these videos
    fs.layout = torch.from_numpy(np.stack([layout_of(render(i, cfg).boxes[::2]) for i in idx])).float()
    key = key_object(fs, cfg, np.arange(len(idx)))
    assert key.shape == (len(idx), c)
    np.testing.assert_allclose(key[:, 0], 1.0 + np.arange(len(idx)))
    place = [1, 4]  # A's node equals one background cell per frame, orthogonal to the others
    objects, background = torch.zeros(2, t, n, c), torch.zeros(2, t, 49, c)
    background[..., 1] = 1.0
    for v, i in enumerate(place):
        video = render(i, cfg)
        for s in range(t):
            cell = 10 + 20 * v
            background[v, s, cell] = torch.eye(c)[0]
            objects[v, s, video.roles[2 * s].index("A")] = torch.eye(c)[0]
    layout = torch.from_numpy(np.stack([layout_of(render(i, cfg).boxes[::2]) for i in place])).float()  # 2 objects
    mask = torch.ones(2, t, n, dtype=torch.bool)
    mask[..., 2:] = False
    fs = FeatureSet(objects.half(), background.half(), torch.nn.functional.pad(layout, (0, 0, 0, n - layout.shape[2])),
                    mask, torch.tensor([render(i, cfg).label for i in place]), [f"synth0_{i:06d}" for i in place])
    key = key_object(fs, cfg, np.arange(2))
    assert key.shape == (2, 49)
    np.testing.assert_allclose([key[0, 10], key[1, 30]], [1.0, 1.0])  # each video's own matching cell
    assert np.count_nonzero(np.abs(key) > 1e-6) == 2
