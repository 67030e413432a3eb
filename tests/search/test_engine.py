import json

import pytest
import torch
from torch import nn

from intergraph.search.bilevel import structure_gradient
from intergraph.search.cell import Cell, CellStack, MixedOp, cell_edges
from intergraph.search.draw import draw_structures
from intergraph.search.structure import (
    GlobalStructure,
    PredictedStructure,
    Structure,
    derive,
    diversity_loss,
    structure_weights,
)


class Scale(nn.Module):
    """A toy operation: x · a (one parameter), counting its calls."""

    def __init__(self, a: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))
        self.calls = 0

    def forward(self, x, ctx=None):
        self.calls += 1
        return x * self.a


def make(name: str) -> nn.Module:
    return Scale({"one": 1.0, "two": 2.0, "three": 3.0}[name])


def test_edges_of_a_cell():
    assert cell_edges(3) == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    assert len(cell_edges(4)) == 10


def test_mixed_op_is_the_weighted_sum_and_skips_unused_ops():
    op = MixedOp(["zero", "one", "two"], make)
    x = torch.randn(3, 5)
    w = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    torch.testing.assert_close(op(x, w), x * (w[:, 1:2] * 1 + w[:, 2:3] * 2))
    with torch.no_grad():  # derived (one-hot) weights: operations nobody uses are not evaluated
        before = op.ops["one"].calls
        op(x, torch.tensor([[0.0, 0.0, 1.0]] * 3))
        assert op.ops["one"].calls == before
    with pytest.raises(ValueError, match="weights of shape"):
        op(x, torch.ones(3, 2))


def test_cell_matches_hand_computed_dag():
    cell = Cell(make, ["one", "two", "three"], steps=2)  # edges (0,1), (0,2), (1,2)
    x = torch.randn(2, 4)
    w = [torch.tensor([[1.0, 0, 0]] * 2), torch.tensor([[0, 1.0, 0]] * 2), torch.tensor([[0, 0, 1.0]] * 2)]
    n1 = x * 1
    n2 = x * 2 + n1 * 3
    torch.testing.assert_close(cell(x, w), torch.cat([n1, n2], -1))


def test_fixed_cell_from_a_structure_and_zero_edges():
    s = Structure(2, [["two", "zero", "three"]])
    stack = CellStack(make, s.candidates(), width=4, steps=2, n_cells=1)
    x = torch.randn(2, 4)
    ones = [[torch.ones(2, 1)] * 3]
    n1 = 2 * x
    torch.testing.assert_close(stack(x, ones), torch.cat([n1, 3 * n1], -1))
    assert sum(1 for _ in stack.parameters()) == 2  # zero has no module


def test_weights_derivation_excludes_zero():
    names = ["zero", "one", "two"]
    logits = torch.tensor([[[[5.0, 1.0, 2.0], [0.0, 3.0, 1.0]]]])  # zero would win on edge 0
    w = structure_weights(logits, names, derive=True)
    assert w.tolist() == [[[[0, 0, 1], [0, 1, 0]]]]
    assert derive(w, names, steps=1)[0].cells == [["two", "one"]]
    soft = structure_weights(logits, names)
    torch.testing.assert_close(soft.sum(-1), torch.ones(1, 1, 2))
    with pytest.raises(ValueError, match="every candidate"):
        structure_weights(logits, ["zero"] * 3, derive=True)


def test_gumbel_weights_are_one_hot_samples_with_the_softmax_gradient():
    """Straight-through Gumbel-softmax (GDAS): one operation per edge forward, never an excluded one; sampled
    in proportion to the softmax (among the allowed); the gradient is that of the relaxed softmax."""
    names = ["zero", "one", "two"]
    logits = torch.tensor([[9.0, 0.0, 1.0]]).expand(4000, 3).clone().requires_grad_(True)
    torch.manual_seed(0)
    w = structure_weights(logits, names, gumbel=1.0)
    assert torch.all(w.sum(-1) == 1) and torch.all((w == 0) | (w == 1)) and torch.all(w[:, 0] == 0)
    share = w[:, 2].mean().item()  # P(two) = e / (1 + e) among one and two
    assert abs(share - torch.e / (1 + torch.e)) < 0.03
    (w[:, 2] * torch.arange(4000.0)).sum().backward()
    assert logits.grad[:, 1:].abs().sum() > 0 and torch.all(logits.grad[:, 0] == 0)
    torch.manual_seed(0)
    assert torch.equal(structure_weights(logits, names, gumbel=1.0), w)  # seeded: the same sample


def test_diversity_loss_by_hand():
    uniform = torch.full((2, 1, 3, 4), 0.25)
    assert float(diversity_loss(uniform)) == 0.0
    collapsed = torch.zeros(1, 1, 3, 4)
    collapsed[..., 1] = 1.0  # every edge picks op 1: totals (0, 3, 0, 0)
    assert float(diversity_loss(collapsed)) == pytest.approx(torch.tensor([0.0, 3, 0, 0]).var().item())


def test_predictors_start_uniform_and_predicted_depends_on_input():
    p = PredictedStructure(8, 2, 6, 5)
    d = torch.randn(3, 8)
    assert p(d).shape == (3, 2, 6, 5) and (p(d) == 0).all()
    with torch.no_grad():
        p.linear.weight.normal_()
    out = p(d)
    assert not torch.allclose(out[0], out[1])
    g = GlobalStructure(8, 2, 6, 5)
    assert g(d).shape == (3, 2, 6, 5)


def test_structure_json_round_trip_and_errors(tmp_path):
    s = Structure(3, [["one", "two", "zero", "one", "two", "three"], ["two"] * 6])
    s.save(tmp_path / "s.json")
    assert Structure.load(tmp_path / "s.json") == s
    assert json.loads((tmp_path / "s.json").read_text())["edges"][2] == [1, 2]
    (tmp_path / "bad.json").write_text('{"steps": 3, "cells": [["one"]]}')
    with pytest.raises(ValueError, match="bad.json.*do not have 6 edges"):
        Structure.load(tmp_path / "bad.json")
    (tmp_path / "junk.json").write_text("not json")
    with pytest.raises(ValueError, match="junk.json: not a derived structure"):
        Structure.load(tmp_path / "junk.json")


def test_drawing_writes_a_png(tmp_path):
    s = Structure(3, [["one", "two", "zero", "one", "two", "three"]])
    path = draw_structures([s, Structure.uniform("two", 3)], ["a", "b"], tmp_path / "cells.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class Quadratic(nn.Module):
    """L(w, α; batch) = Σ (w − α·batch)² + c·(w·α)²: small enough to differentiate by hand."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.5, -1.0]))
        self.alpha = nn.Parameter(torch.tensor([0.3, 0.7]))

    def loss(self, batch):
        return ((self.w - self.alpha * batch) ** 2).sum() + 0.1 * ((self.w * self.alpha) ** 2).sum()


def test_darts_first_and_second_order_gradients():
    torch.manual_seed(0)
    train, val = torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5])
    m = Quadratic()
    w0 = m.w.detach().clone()
    structure_gradient(m.loss, lambda l: l.backward(), [m.w], [m.alpha], train, val, xi=0.0)
    a = m.alpha.detach().clone().requires_grad_(True)
    ref = torch.autograd.grad(((w0 - a * val) ** 2).sum() + 0.1 * ((w0 * a) ** 2).sum(), a)[0]
    torch.testing.assert_close(m.alpha.grad, ref)
    assert m.w.grad is None and torch.equal(m.w.detach(), w0)

    xi = 0.05
    m.alpha.grad = None
    structure_gradient(m.loss, lambda l: l.backward(), [m.w], [m.alpha], train, val, xi=xi)
    # exact unrolled gradient by autograd: d/dα L_val(w − ξ ∇_w L_train(w, α), α)
    a = m.alpha.detach().clone().requires_grad_(True)
    w = w0.clone().requires_grad_(True)
    l_train = ((w - a * train) ** 2).sum() + 0.1 * ((w * a) ** 2).sum()
    gw = torch.autograd.grad(l_train, w, create_graph=True)[0]
    w1 = w - xi * gw
    exact = torch.autograd.grad(((w1 - a * val) ** 2).sum() + 0.1 * ((w1 * a) ** 2).sum(), a)[0]
    torch.testing.assert_close(m.alpha.grad, exact, atol=1e-4, rtol=1e-3)
    assert torch.equal(m.w.detach(), w0)
