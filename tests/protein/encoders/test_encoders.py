"""Encoders: invariance/equivariance under rotations, reflections and translations, permutation
equivariance, gradients to every parameter, and PLM fusion that never changes the encoder's size."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from intergraph.protein.encoders import ENCODERS, FUSIONS, ResidueEncoder, parameter_count
from intergraph.protein.featurize import featurize
from intergraph.protein.io import read_structure

from ...geometry import random_orthogonal


def orthogonal(seed: int, reflect: bool) -> torch.Tensor:
    return torch.tensor(random_orthogonal(seed, reflect), dtype=torch.float32)


def transformed(g, R, t):
    """The same graph moved rigidly: positions and every vector feature transform, scalars stay."""
    h = copy.copy(g)
    h.pos = g.pos @ R.T + t
    h.node_v = g.node_v @ R.T
    h.edge_v = g.edge_v @ R.T
    return h


def permuted(g, perm):
    h = copy.copy(g)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(perm))
    for key in ("pos", "node_s", "node_v", "residue_type", "plm", "plm_mask", "chain"):
        if key in g:
            h[key] = g[key][perm]
    h.edge_index = inv[g.edge_index]
    return h


@pytest.fixture(scope="module")
def graph(db5_root):
    g = featurize(read_structure(db5_root / "structures" / "7CEI_l_b.pdb.gz"))
    torch.manual_seed(0)
    g.plm = torch.randn(g.num_nodes, 24)
    g.plm_mask = torch.rand(g.num_nodes) > 0.1
    return g


def build(kind, fusion="none", **kw):
    torch.manual_seed(0)
    return ResidueEncoder(kind, fusion, plm_dim=24 if fusion != "none" else None, out_dim=32,
                          layers=2, **kw).eval()


@pytest.mark.parametrize("kind", ENCODERS)
@pytest.mark.parametrize("reflect", [False, True])
def test_outputs_invariant_and_geometry_equivariant(graph, kind, reflect):
    model = build(kind, "project", update_coords=True) if kind == "egnn" else build(kind, "project")
    R, t = orthogonal(1, reflect), torch.tensor([10.0, -20.0, 5.0])
    with torch.no_grad():
        h0, geo0 = model(graph)
        h1, geo1 = model(transformed(graph, R, t))
    torch.testing.assert_close(h0, h1, atol=1e-4, rtol=1e-4)
    if kind == "gvp":
        torch.testing.assert_close(geo0 @ R.T, geo1, atol=1e-4, rtol=1e-4)
    else:
        torch.testing.assert_close(geo0 @ R.T + t, geo1, atol=1e-3, rtol=1e-4)
    if kind == "egnn":
        assert not torch.allclose(geo0, graph.pos)  # coordinates were actually updated


@pytest.mark.parametrize("kind", ENCODERS)
def test_full_pipeline_rotation_from_featurization(db5_root, kind):
    """Featurize a rotated structure from scratch: the encoder output must not change."""
    s = read_structure(db5_root / "structures" / "7CEI_l_b.pdb.gz")
    R = orthogonal(2, False).double().numpy()
    moved = copy.copy(s)
    moved.coord = (s.coord.astype(np.float64) @ R.T + [3.0, 4.0, -50.0]).astype(np.float32)
    model = build(kind)
    with torch.no_grad():
        torch.testing.assert_close(model(featurize(s))[0], model(featurize(moved))[0], atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("kind", ENCODERS)
def test_permutation_equivariance(graph, kind):
    model = build(kind, "gated")
    perm = torch.randperm(graph.num_nodes, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        h0, _ = model(graph)
        h1, _ = model(permuted(graph, perm))
    torch.testing.assert_close(h0[perm], h1, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", ENCODERS)
@pytest.mark.parametrize("fusion", FUSIONS)
def test_gradients_reach_every_parameter(graph, kind, fusion):
    model = build(kind, fusion, update_coords=True) if kind == "egnn" else build(kind, fusion)
    model.train()
    h, geo = model(graph)
    (h.pow(2).mean() + geo.pow(2).mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} receives no gradient"


@pytest.mark.parametrize("kind", ENCODERS)
def test_project_fusion_keeps_the_encoder_size(kind):
    base = parameter_count(build(kind, "none"))
    project = parameter_count(build(kind, "project"))
    # only LayerNorm(24) + Linear(24 -> 32) are added
    assert project - base == 2 * 24 + 24 * 32 + 32
    assert parameter_count(build(kind, "concat")) > project and parameter_count(build(kind, "replace")) != base


def test_masked_plm_rows_do_not_matter(graph):
    model = build("gvp", "project")
    other = copy.copy(graph)
    other.plm = graph.plm.clone()
    other.plm[~graph.plm_mask] = 1000.0
    with torch.no_grad():
        torch.testing.assert_close(model(graph)[0], model(other)[0])


@pytest.mark.parametrize("kind", ENCODERS)
def test_batched_equals_one_by_one(db5_root, kind):
    graphs = [featurize(read_structure(db5_root / "structures" / f"{c}_l_b.pdb.gz")) for c in ("7CEI", "1AVX")]
    model = build(kind)
    with torch.no_grad():
        batch = Batch.from_data_list(graphs)
        together = model(batch)[0]
        alone = torch.cat([model(Batch.from_data_list([g]))[0] for g in graphs])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError):
        ResidueEncoder("schnet")
    with pytest.raises(ValueError):
        ResidueEncoder("gvp", "project")  # needs plm_dim


def test_molformer_dense_attention_equals_explicit_all_pairs(db5_root):
    """The dense path (padded n x n logits) computes what the sparse softmax over all-pairs edges computes,
    values and gradients, in a batch of unequal graphs including one with a single node (no partners)."""
    from intergraph.protein.encoders.molformer import MolformerEncoder

    graphs = [featurize(read_structure(db5_root / "structures" / f"{c}_l_b.pdb.gz")) for c in ("7CEI", "1AVX")]
    batch = Batch.from_data_list(graphs)
    pos = torch.cat([batch.pos, torch.zeros(1, 3)])
    ids = torch.cat([batch.batch, torch.tensor([2])])
    torch.manual_seed(0)
    x = torch.randn(len(ids), 7)
    model = MolformerEncoder(7, dim=32, heads=4, layers=2, out_dim=16, full_max=10_000).eval()
    out = []
    for dense in (True, False):
        model.zero_grad()
        h, _ = model(x, None, pos, ids, dense=dense)
        h.pow(2).sum().backward()
        out.append((h.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(out[0][0], out[1][0], atol=1e-4, rtol=1e-4)
    for a, b in zip(out[0][1], out[1][1]):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)
