import pytest
import torch

from intergraph.video.graph import VideoGraph
from intergraph.video.ops import BASIC_OPS, COMPOSITE_OPS, DifferencePropagation, OpSpace, TemporalConvolution

from .helpers import random_graph

B, T, N, M, C = 2, 4, 3, 5, 8
SPACE = OpSpace(C, T, N, M, kernel=3, identity_dropout=0.0)
NAMES = [o for o in BASIC_OPS + COMPOSITE_OPS if o != "zero"]
# node attention reads similarities by node position, so it (and the composites ending with it) is not
# permutation-equivariant by design (as in the paper); every other operation is
EQUIVARIANT = ["identity", "feat_aggr", "diff_prop", "temp_conv", "back_incor"]


@pytest.mark.parametrize("name", NAMES)
def test_shapes_mask_and_gradients(name):
    torch.manual_seed(0)
    op = SPACE(name)
    g = random_graph(B, T, N, M, C)
    x = g.objects.clone().requires_grad_(True)
    y = op(x, g)
    assert y.shape == (B, T, N, C) and torch.isfinite(y).all()
    assert (y[~g.mask] == 0).all(), "padded nodes must stay zero"
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in op.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient reaches {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_padding_does_not_leak(name):
    """What padded slots hold must not change the valid nodes' outputs."""
    torch.manual_seed(0)
    op = SPACE(name).eval()
    g = random_graph(B, T, N, M, C)
    x2 = g.objects.clone()
    x2[~g.mask] = 100.0 * torch.randn(int((~g.mask).sum()), C)
    y1, y2 = op(g.objects, g), op(x2, g)
    torch.testing.assert_close(y1[g.mask], y2[g.mask], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", EQUIVARIANT)
def test_permutation_equivariance_within_frames(name):
    torch.manual_seed(0)
    op = SPACE(name).eval()
    g = random_graph(B, T, N, M, C, pad=False)
    perm = torch.stack([torch.randperm(N) for _ in range(T)])  # a different permutation in every frame
    idx = perm[None, :, :].expand(B, T, N)

    def permute(a):
        return torch.gather(a, 2, idx[..., None].expand(*idx.shape, a.shape[-1])) if a.dim() == 4 \
            else torch.gather(a, 2, idx)

    gp = VideoGraph(permute(g.objects), g.background, permute(g.layout), permute(g.mask))
    torch.testing.assert_close(op(gp.objects, gp), permute(op(g.objects, g)), atol=1e-5, rtol=1e-5)


def test_difference_propagation_matches_direct_formula():
    torch.manual_seed(1)
    c = 16
    op = DifferencePropagation(c)
    with torch.no_grad():
        op.affinity.weight.add_(0.1 * torch.randn(c, c))
    g = random_graph(3, 5, 4, 6, c, seed=3)
    x = g.objects
    xf, m = x.reshape(3, 20, c), g.mask.reshape(3, 20)
    a = op.weights(xf, m)
    diff = xf[:, :, None, :] - xf[:, None, :, :]  # (B, n, n, C): what the official code builds
    direct = (a[..., None] * op.affine(diff)).sum(dim=2)
    expected = torch.nn.functional.leaky_relu(op.norm(direct)).view_as(x) * g.mask[..., None]
    torch.testing.assert_close(op(x, g), expected, atol=1e-5, rtol=1e-5)
    # the weights exclude the node itself and padded nodes, and sum to one
    assert (a.diagonal(dim1=1, dim2=2) == 0).all()
    assert (a[~m[:, None, :].expand_as(a)] == 0).all()
    torch.testing.assert_close(a.sum(-1), torch.ones(3, 20))


def test_temporal_convolution_follows_most_similar_node():
    """Three objects with distinct features, shuffled differently in every frame: each node's track must be
    the same object in every frame."""
    torch.manual_seed(2)
    t, n, c = 6, 3, 8
    protos = torch.randn(n, c) * 3
    order = torch.stack([torch.randperm(n) for _ in range(t)])  # order[t, slot] = object id
    x = (protos[order] + 0.01 * torch.randn(t, n, c))[None]
    g = VideoGraph(x, torch.randn(1, t, 4, c), torch.rand(1, t, n, 9), torch.ones(1, t, n, dtype=torch.bool))
    op = TemporalConvolution(c, kernel=3)
    track, idx = op.tracks(x, g)
    for slot in range(t * n):
        obj = order.view(-1)[slot]
        chosen = order[torch.arange(t), idx[0, slot]]
        assert (chosen == obj).all()
        torch.testing.assert_close(track[0, slot], x[0, torch.arange(t), idx[0, slot]])
    # and the output is the depthwise convolution of that track
    y = op(x, g)
    ref = op.conv(track[0].transpose(1, 2)).transpose(1, 2)  # torch's own depthwise convolution
    torch.testing.assert_close(op.depthwise(track[0]), ref, atol=1e-5, rtol=1e-5)
    ref = torch.nn.functional.leaky_relu(op.norm(ref)).mean(1)
    torch.testing.assert_close(y[0].reshape(t * n, c), ref, atol=1e-5, rtol=1e-5)


def test_unknown_operation_is_named():
    with pytest.raises(ValueError, match="unknown graph operation 'conv9'"):
        SPACE("conv9")


def test_size_mismatch_is_reported():
    with pytest.raises(ValueError, match="built for 12 nodes"):
        SPACE("node_att")(torch.zeros(1, 2, 3, C), random_graph(1, 2, 3, M, C))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("k,t", [(7, 8), (3, 5), (7, 3), (4, 6)])
def test_shift_convolution_matches_torch(k, t):
    """Values and gradients of the hand-written depthwise convolution against torch's, odd and even kernels,
    sequences shorter than the kernel."""
    from intergraph.video.ops import ShiftConv

    torch.manual_seed(k * 10 + t)
    conv = torch.nn.Conv1d(6, 6, k, groups=6, padding="same").double()
    seq = torch.randn(5, t, 6, dtype=torch.double, requires_grad=True)
    torch.autograd.gradcheck(lambda s, w, b: ShiftConv.apply(s, w, b),
                             (seq, conv.weight[:, 0].detach().clone().requires_grad_(True),
                              conv.bias.detach().clone().requires_grad_(True)))
    torch.testing.assert_close(ShiftConv.apply(seq, conv.weight[:, 0], conv.bias),
                               conv(seq.transpose(1, 2)).transpose(1, 2))


@pytest.mark.parametrize("k,t", [(7, 8), (3, 5), (4, 6), (3, 3)])
def test_valid_temporal_convolution_is_torchs_unpadded_convolution(k, t):
    """``padding="valid"`` (the paper's code): the T − k + 1 windows that fit, equal to torch's unpadded depthwise
    convolution with the same weights; the op averages them; a graph shorter than the kernel is refused."""
    torch.manual_seed(k + t)
    op = TemporalConvolution(6, kernel=k, padding="valid", frames=t)
    seq = torch.randn(5, t, 6)
    ref = torch.nn.functional.conv1d(seq.transpose(1, 2), op.conv.weight, op.conv.bias, groups=6).transpose(1, 2)
    assert ref.shape[1] == t - k + 1
    torch.testing.assert_close(op.depthwise(seq), ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="at least 7 time steps"):
        TemporalConvolution(6, kernel=7, padding="valid", frames=6)
    with pytest.raises(ValueError, match="same or valid"):
        TemporalConvolution(6, padding="full")
    space = OpSpace(C, 8, 3, M, kernel=3, temporal_padding="valid")
    x = torch.randn(2, 8, 3, C)
    assert space("temp_conv")(x, random_graph(2, 8, 3, M, C)).shape == x.shape
