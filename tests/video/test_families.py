import numpy as np
import pytest

from intergraph.errors import InputError
from intergraph.video.families import CLASS_FAMILY, CLASSES, FAMILIES, OFFSETS, PATCH, label_of
from intergraph.video.synthetic import SyntheticConfig, class_groups, classes_of, render

CFG = SyntheticConfig(benchmark="families")
QUIET = SyntheticConfig(benchmark="families", noise=0.0)


def centres(track):
    return (track[:, :2] + track[:, 2:]) / 2


def test_labels_cycle_through_families_and_their_classes():
    labels = [label_of(i) for i in range(48)]
    assert [CLASS_FAMILY[y] for y in labels[:6]] == [0, 1, 2, 0, 1, 2]
    assert np.bincount(labels, minlength=len(CLASSES)).tolist() == [4, 4, 4, 4, 8, 8, 8, 8]
    assert classes_of(CFG) == CLASSES and class_groups(CFG)[OFFSETS[1]] == "place"
    assert len(FAMILIES[0].oracle) == 6  # one operation per edge of a 3-step cell


def test_videos_are_deterministic_with_every_box_column_reshuffled():
    a, b = render(5, CFG), render(5, CFG)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes) and a.label == label_of(5)
    assert not np.array_equal(render(5, SyntheticConfig(benchmark="families", seed=1)).frames, a.frames)
    v = render(2, CFG)  # crowd: four objects, the column order changes between frames
    assert len({tuple(r) for r in v.roles}) > 1
    fixed = render(2, SyntheticConfig(benchmark="families", box_order="video"))
    assert len({tuple(r) for r in fixed.roles}) == 1
    with pytest.raises(InputError, match="benchmark"):
        SyntheticConfig(benchmark="kinetics")
    with pytest.raises(InputError, match="8 frames"):
        SyntheticConfig(benchmark="families", frames=4)


@pytest.mark.parametrize("family", range(len(FAMILIES)))
def test_the_background_does_not_depend_on_the_label(family):
    """Every class of a family, same video index: identical pixels wherever no object is in either video."""
    videos = [render(3 + family, QUIET, OFFSETS[family] + k) for k in range(len(FAMILIES[family].classes))]
    free = np.ones(videos[0].frames.shape[:3], bool)
    for v in videos:
        for t in range(v.boxes.shape[0]):
            for x1, y1, x2, y2 in v.boxes[t].astype(int):
                free[t, max(y1 - 1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1] = False
    assert free.mean() > 0.5
    for v in videos[1:]:
        assert np.array_equal(v.frames[free], videos[0].frames[free])
        assert v.scene.get("patches") == videos[0].scene.get("patches")


def test_families_look_apart_in_the_mean_background():
    means = np.array([[render(i * 3 + k, CFG).frames.mean(axis=(0, 1, 2)) for i in range(4)] for k in range(3)])
    within = np.abs(means - means.mean(axis=1, keepdims=True)).max()
    between = min(np.abs(means[i].mean(0) - means[j].mean(0)).max() for i in range(3) for j in range(i))
    assert between > 3 * within


@pytest.mark.parametrize("index", range(12))
def test_ground_truth_boxes_describe_the_label(index):
    v = render(index, CFG)
    family = FAMILIES[CLASS_FAMILY[v.label]]
    name = family.classes[v.label - OFFSETS[CLASS_FAMILY[v.label]]]
    assert v.boxes.shape[1] <= 4 and (v.boxes >= 0).all() and (v.boxes <= 112).all()
    if family.name == "motion":
        a, b = centres(v.track("A")), centres(v.track("B"))
        dist = np.linalg.norm(a - b, axis=1)
        assert np.abs(b[-1] - b[0]).max() < 1
        if name == "A approaches B":
            assert dist[-1] < dist[0] - 10
        elif name == "A moves away from B":
            assert dist[-1] > dist[0] + 10
        else:
            assert np.linalg.norm(a[-1] - a[0]) > 20
    elif family.name == "place":
        corners = np.array(v.scene["patches"])
        a = centres(v.track("A"))
        box = v.track("A")[-1]
        goal = corners[v.label - OFFSETS[1]]
        other = corners[1 - (v.label - OFFSETS[1])]

        def gap(corner):  # pixels between A's final box and a patch (0: touching or overlapping)
            dx = max(corner[0] - box[2], box[0] - (corner[0] + PATCH), 0)
            dy = max(corner[1] - box[3], box[1] - (corner[1] + PATCH), 0)
            return max(dx, dy)

        assert 0 < gap(goal) <= 4 and gap(other) > 10  # beside the labelled patch, never on either
        assert 30 < np.linalg.norm(a[0] - a[-1]) < 60 and np.abs(a[-1] - a[-3]).max() < 1e-6
        assert np.linalg.norm(np.diff(centres(v.track("B")), axis=0), axis=1).mean() > 0.5  # nuisance motion
    else:
        assert sum(r.count("odd") for r in v.roles) == v.boxes.shape[0] and all(r.count("crowd") == 3
                                                                                 for r in v.roles)
        crowd = np.array([centres(v.boxes[t][[r == "crowd" for r in v.roles[t]]]).mean(0) for t in (0, -1)])
        odd = centres(v.track("odd"))
        drift = (crowd[1] - crowd[0])
        assert np.linalg.norm((odd[-1] - odd[0]) + drift) < 10  # the odd one moves against the others


def test_the_odd_one_out_has_the_labelled_hue_and_the_hues_are_balanced():
    for index in (2, 5):  # warm, cool
        v = render(index, QUIET)
        x1, y1, x2, y2 = v.track("odd")[0].astype(int)
        centre = v.frames[0, (y1 + y2) // 2, (x1 + x2) // 2].astype(float)
        warm = label_of(index) - OFFSETS[2] == 0
        assert (centre[0] > centre[2]) == warm
        reds = [v.frames[0, int(b[1] + b[3]) // 2, int(b[0] + b[2]) // 2].astype(float) for b in v.boxes[0]]
        assert sum(r[0] > r[2] for r in reds) == 2  # two warm and two cool objects in every video
