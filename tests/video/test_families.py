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


def scenery(v):
    """The mean colour of a video's pixels outside its patches (whose colours are random) and its boxes."""
    keep = np.ones(v.frames.shape[:3], bool)
    for x, y in np.array(v.scene.get("patches", []), int):
        keep[:, y:y + PATCH, x:x + PATCH] = False
    for t in range(v.boxes.shape[0]):
        for x1, y1, x2, y2 in v.boxes[t].astype(int):
            keep[t, y1:y2, x1:x2] = False
    return v.frames[keep].mean(0)


def test_families_look_apart_in_the_mean_background():
    means = np.array([[scenery(render(i * 3 + k, CFG)) for i in range(4)] for k in range(3)])
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
        corners, colours = np.array(v.scene["patches"]), np.array(v.scene["colours"])
        assert corners[0, 0] + PATCH <= 56 <= corners[1, 0]  # one patch in each half of the frame
        side = v.label - OFFSETS[1]
        x1, y1, x2, y2 = v.track("A")[0].astype(int)
        a = v.frames[0, y1 + 2:y2 - 2, x1 + 2:x2 - 2].reshape(-1, 3).astype(float).mean(0)
        assert np.abs(a - colours[side]).max() < 25  # A wears the colour of the labelled patch
        for role in ("A", "B"):  # both wander: nuisance motion
            assert np.linalg.norm(np.diff(centres(v.track(role)), axis=0), axis=1).mean() > 0.5
    else:
        assert sum(r.count("odd") for r in v.roles) == v.boxes.shape[0] and all(r.count("crowd") == 3
                                                                                 for r in v.roles)
        assert np.linalg.norm(np.diff(centres(v.track("odd")), axis=0), axis=1).mean() > 0.5


def sprite(v, role, t=0):
    """The pixels inside the box of ``role`` at frame ``t`` (noise off: a sprite's own colours at its centre)."""
    x1, y1, x2, y2 = v.track(role)[t].astype(int)
    return v.frames[t, (y1 + y2) // 2 - 2:(y1 + y2) // 2 + 2, (x1 + x2) // 2 - 2:(x1 + x2) // 2 + 2].astype(float)


def test_the_odd_one_out_carries_the_label_and_the_crowd_hue_does_not():
    """crowd: three identical sprites and an odd one of another shape; the odd one's hue is the label, the
    crowd's hue is drawn on its own (both hues with both labels)."""
    seen, redness = set(), {0: [], 1: []}
    for index in range(2, 2 + 3 * 16, 3):
        v = render(index, QUIET)
        within = v.label - OFFSETS[2]
        assert v.scene["hues"][0] == ("warm", "cool")[within]
        seen.add((within, v.scene["hues"][1]))
        boxes = v.boxes[0][[r == "crowd" for r in v.roles[0]]]
        assert len({int(b[2] - b[0]) for b in boxes}) == 1  # the crowd: one size
        odd = sprite(v, "odd")
        redness[within].append(odd[..., 0].mean() - odd[..., 2].mean())
    assert seen == {(0, "warm"), (0, "cool"), (1, "warm"), (1, "cool")}
    assert np.mean(redness[0]) > np.mean(redness[1]) + 50  # warm odd ones are redder than cool ones
