"""Residue graph features: invariance/equivariance, dihedrals against an independent formula, breaks, I/O."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from intergraph.graph.io import load_graph, save_graph
from intergraph.protein.featurize import GraphConfig, featurize
from intergraph.protein.io import read_structure

from ..geometry import random_orthogonal


@pytest.fixture(scope="module")
def structure(db5_root):
    return read_structure(db5_root / "structures" / "1AHW_r_b.pdb.gz")  # antibody: two chains


def random_rotation(seed: int, reflect: bool = False) -> np.ndarray:
    return random_orthogonal(seed, reflect)


def moved(structure, rot: np.ndarray, shift: np.ndarray):
    import copy

    s = copy.copy(structure)
    s.coord = (structure.coord.astype(np.float64) @ rot.T + shift).astype(np.float32)
    return s


def test_shapes_and_dims(structure):
    cfg = GraphConfig()
    g = featurize(structure, cfg)
    L, E = g.num_nodes, g.num_edges
    assert g.node_s.shape == (L, 7) and g.node_v.shape == (L, 3, 3)
    assert g.edge_s.shape == (E, cfg.edge_scalar_dim) and g.edge_v.shape == (E, 1, 3)
    assert g.chain_ids == ["A", "B"] and set(g.chain.tolist()) == {0, 1}
    assert torch.bincount(g.edge_index[1]).max() <= 32
    d = (g.pos[g.edge_index[0]] - g.pos[g.edge_index[1]]).norm(dim=-1)
    assert d.max() <= 8.0 + 1e-4
    assert torch.isfinite(g.edge_s).all() and torch.isfinite(g.node_v).all()
    norms = g.edge_v.norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scalar_features_invariant_vector_features_equivariant(structure, seed):
    rot = random_rotation(seed)
    shift = np.random.default_rng(seed).normal(size=3) * 50
    a = featurize(structure)
    b = featurize(moved(structure, rot, shift))
    assert torch.equal(a.edge_index, b.edge_index)
    torch.testing.assert_close(a.node_s, b.node_s, atol=2e-4, rtol=0)
    torch.testing.assert_close(a.edge_s, b.edge_s, atol=2e-4, rtol=0)
    R = torch.tensor(rot, dtype=torch.float32)
    torch.testing.assert_close(a.node_v @ R.T, b.node_v, atol=2e-4, rtol=0)
    torch.testing.assert_close(a.edge_v @ R.T, b.edge_v, atol=2e-4, rtol=0)
    torch.testing.assert_close(a.pos @ R.T + torch.tensor(shift, dtype=torch.float32), b.pos, atol=1e-3, rtol=0)


def test_reflection_flips_dihedral_signs(structure):
    a = featurize(structure)
    b = featurize(moved(structure, random_rotation(3, reflect=True), np.zeros(3)))
    torch.testing.assert_close(a.node_s[:, :3], b.node_s[:, :3], atol=2e-4, rtol=0)  # cosines
    torch.testing.assert_close(a.node_s[:, 3:6], -b.node_s[:, 3:6], atol=2e-4, rtol=0)  # sines


def _dihedral_reference(p0, p1, p2, p3) -> float:
    """Praxeolitic formula, written independently of the featurizer."""
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1) * b1
    w = b2 - np.dot(b2, b1) * b1
    return math.atan2(np.dot(np.cross(b1, v), w), np.dot(v, w))


def test_dihedrals_against_reference(structure):
    g = featurize(structure)
    bb = g.backbone.double().numpy()
    i = 10  # an interior residue of chain A
    assert g.chain[i - 1] == g.chain[i] == g.chain[i + 1]
    phi = _dihedral_reference(bb[i - 1, 2], bb[i, 0], bb[i, 1], bb[i, 2])
    psi = _dihedral_reference(bb[i, 0], bb[i, 1], bb[i, 2], bb[i + 1, 0])
    omega = _dihedral_reference(bb[i, 1], bb[i, 2], bb[i + 1, 0], bb[i + 1, 1])
    expected = [math.cos(phi), math.cos(psi), math.cos(omega), math.sin(phi), math.sin(psi), math.sin(omega)]
    np.testing.assert_allclose(g.node_s[i, :6].numpy(), expected, atol=1e-4)
    assert abs(abs(omega) - math.pi) < 0.5  # trans peptide


def test_no_features_across_chain_boundaries(structure):
    g = featurize(structure)
    last_a = int((g.chain == 0).nonzero().max())
    assert (g.node_v[last_a, 0] == 0).all() and (g.node_v[last_a + 1, 1] == 0).all()
    assert (g.node_s[last_a, [1, 2, 4, 5]] == 0).all()  # psi, omega undefined at the chain end
    assert (g.node_s[last_a + 1, [0, 3]] == 0).all()  # phi undefined at the chain start
    src, dst = g.edge_index
    cross = g.chain[src] != g.chain[dst]
    assert cross.any()
    assert (g.edge_s[cross, 16:32] == 0).all() and (g.edge_s[cross, 32] == 0).all()
    assert (g.edge_s[~cross, 32] == 1).all()


def test_knn_config_and_key(structure):
    g = featurize(structure, GraphConfig(edges="knn", k=10))
    assert g.num_edges == 10 * g.num_nodes
    assert GraphConfig().key() != GraphConfig(radius=10.0).key() != GraphConfig(edges="knn").key()
    assert GraphConfig().key() == GraphConfig().key()
    with pytest.raises(ValueError):
        GraphConfig(edges="delaunay")


def test_save_load_round_trip_and_batching(structure, tmp_path):
    g = featurize(structure, name="1AHW_r_b")
    save_graph(g, tmp_path / "g.pt")
    h = load_graph(tmp_path / "g.pt")
    for key in g.keys():
        a, b = g[key], h[key]
        assert (torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b), key
    batch = Batch.from_data_list([g, h])
    assert batch.num_nodes == 2 * g.num_nodes
    assert batch.chain.max() == 1  # per-graph chain numbers are not offset by batching
    assert batch.edge_index[:, g.num_edges:].min() == g.num_nodes


def test_deterministic(structure):
    a, b = featurize(structure), featurize(structure)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_s, b.edge_s)
