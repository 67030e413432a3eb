import numpy as np
import torch

from intergraph.video.graph import layout_vectors
from intergraph.video.probes import box_features, check, format_check, tracks
from intergraph.video.synthetic import SyntheticConfig, render


def layout_of(boxes: np.ndarray) -> np.ndarray:
    return layout_vectors(torch.from_numpy(boxes), 112, 112).numpy()


def test_tracks_follow_objects_through_reshuffled_columns():
    v = render(0, SyntheticConfig(benchmark="families"))  # motion: A moves, B rests
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
    assert result["family_from_descriptor"] >= 0.9 and result["family_chance"] < 0.5
    assert set(result["families"]) == {"motion", "place", "crowd"}
    assert all(r["test_videos"] > 0 and 0 <= r["label_from_boxes"] <= 1 for r in result["families"].values())
    assert "| place |" in format_check(result)
