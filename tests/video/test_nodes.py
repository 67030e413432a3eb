import pytest
import torch

from intergraph.video.graph import layout_vectors
from intergraph.video.nodes import NodeConfig, NodeExtractor, make_backbone


def test_layout_vectors_by_hand():
    boxes = torch.tensor([[[10.0, 20.0, 30.0, 60.0]], [[0.0, 0.0, 100.0, 100.0]]])  # (T=2, N=1, 4)
    v = layout_vectors(boxes, 100, 200)
    torch.testing.assert_close(v[0, 0], torch.tensor([0.1, 0.1, 0.3, 0.3, 0.2, 0.2, 0.2, 0.2, 0.0]))
    assert float(v[1, 0, 8]) == 0.5


@pytest.mark.parametrize("backbone,channels", [("small3d", 128), ("r3d_18", 512), ("r2plus1d_18", 512),
                                               ("mc3_18", 512)])
def test_extractor_shapes_padding_and_mask(backbone, channels):
    torch.manual_seed(0)
    ex = NodeExtractor(NodeConfig(backbone=backbone, nodes_per_frame=4, grid=3)).eval()
    video = torch.rand(2, 3, 8, 64, 64)
    boxes = torch.tensor([10.0, 10.0, 40.0, 50.0]).expand(2, 8, 2, 4).clone()
    mask = torch.ones(2, 8, 2, dtype=torch.bool)
    mask[1, :, 1] = False
    with torch.no_grad():
        g = ex(video, boxes, mask)
    t = g.objects.shape[1]
    assert g.objects.shape == (2, t, 4, channels) and g.background.shape == (2, t, 9, channels)
    assert g.mask[:, :, 2:].sum() == 0 and not g.mask[1, :, 1].any() and g.mask[0, :, :2].all()
    assert (g.objects[~g.mask] == 0).all() and (g.objects[g.mask].abs().sum(-1) > 0).all()


def test_roi_features_come_from_inside_the_box():
    """A box over a region of the video must give that region's features, wherever else the video changes."""
    torch.manual_seed(0)
    ex = NodeExtractor(NodeConfig(nodes_per_frame=1, grid=2)).eval()
    video = torch.rand(1, 3, 4, 64, 64)
    other = video.clone()
    other[..., :, 40:] = torch.rand_like(other[..., :, 40:])  # change only the right part
    box = torch.tensor([2.0, 2.0, 20.0, 20.0]).expand(1, 4, 1, 4)
    mask = torch.ones(1, 4, 1, dtype=torch.bool)
    with torch.no_grad():
        a, b = ex(video, box, mask), ex(other, box, mask)
    torch.testing.assert_close(a.objects, b.objects)
    assert not torch.allclose(a.background, b.background)


def test_too_many_boxes_and_unknown_backbones_are_reported():
    ex = NodeExtractor(NodeConfig(nodes_per_frame=1))
    with pytest.raises(ValueError, match="2 boxes per frame for a budget of 1"):
        ex(torch.rand(1, 3, 4, 32, 32), torch.zeros(1, 4, 2, 4), torch.ones(1, 4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="unknown backbone 'i3d'"):
        make_backbone("i3d")


def test_user_weights_are_loaded_and_checked(tmp_path):
    from torchvision.models.video import r3d_18

    torch.save(r3d_18(weights=None).state_dict(), tmp_path / "r3d.pt")
    trunk = make_backbone("r3d_18", tmp_path / "r3d.pt", layer="layer3")
    assert trunk.out_channels == 256
    torch.save({"something": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: not r3d_18 weights"):
        make_backbone("r3d_18", tmp_path / "bad.pt")
