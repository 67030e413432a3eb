"""Layer specs, windows and their stitching, token-budget batching."""
from __future__ import annotations

import numpy as np
import pytest

from intergraph.protein.plm.backends import load_plm
from intergraph.protein.plm.extract import LayerSpec, embed, windows


def collect(it):
    out = {}
    for batch in it:
        out.update(batch)
    return out


def test_layer_specs():
    assert LayerSpec.parse("last").resolve(33) == [33] and LayerSpec.parse("last").key(33) == "33"
    assert LayerSpec.parse("30,33").key(33) == "30,33"
    assert LayerSpec.parse("mean4").resolve(33) == [30, 31, 32, 33] and LayerSpec.parse("mean4").key(33) == "mean4"
    for bad in ("x", "mean0"):
        with pytest.raises(ValueError):
            LayerSpec.parse(bad)
    with pytest.raises(ValueError):
        LayerSpec.parse("34").resolve(33)


@pytest.mark.parametrize("length,window,overlap",
                         [(5, 10, 3), (10, 10, 3), (11, 10, 3), (100, 10, 3), (1023, 1022, 256)])
def test_windows_cover_everything_with_the_overlap(length, window, overlap):
    w = windows(length, window, overlap)
    covered = np.zeros(length, int)
    for s, e in w:
        assert 0 <= s < e <= length and e - s == min(window, length)
        covered[s:e] += 1
    assert covered.min() >= 1 and w[-1][1] == length
    for (s0, e0), (s1, _) in zip(w, w[1:]):
        assert e0 - s1 >= overlap  # consecutive windows overlap by at least `overlap`


def test_stitched_long_sequence_matches_the_unchunked_one(tiny_fair_esm):
    """Layer 0 (the token embedding) has no context, so windows must reproduce it exactly: this checks the
    offsets and the averaging of the stitching."""
    plm = load_plm(tiny_fair_esm)
    seq = "".join(np.random.default_rng(0).choice(list("ACDEFGHIKLMNPQRSTVWY"), 157))
    full = collect(embed(plm, [seq], LayerSpec.parse("0"), window=1022))[0]
    stitched = collect(embed(plm, [seq], LayerSpec.parse("0"), window=40, overlap=15, token_budget=50))[0]
    assert stitched.shape == full.shape == (157, 32)
    np.testing.assert_allclose(stitched, full, atol=1e-6)


def test_overlaps_are_the_mean_of_their_windows(tiny_fair_esm):
    plm = load_plm(tiny_fair_esm)
    seq = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVV"
    w = windows(len(seq), 30, 10)
    parts = [collect(embed(plm, [seq[s:e]]))[0] for s, e in w]
    total = np.zeros((len(seq), 32))
    count = np.zeros((len(seq), 1))
    for (s, e), p in zip(w, parts):
        total[s:e] += p
        count[s:e] += 1
    stitched = collect(embed(plm, [seq], window=30, overlap=10))[0]
    np.testing.assert_allclose(stitched, total / count, atol=1e-5)


def test_token_budget_batches_and_order(tiny_fair_esm):
    plm = load_plm(tiny_fair_esm)
    seqs = ["M" * n for n in (5, 50, 12, 30, 7)]
    batches = list(embed(plm, seqs, token_budget=60))
    assert len(batches) > 1
    got = collect(iter(batches))
    assert sorted(got) == list(range(5)) and all(got[i].shape[0] == len(seqs[i]) for i in got)
    seen = {}
    for b in batches:
        for i, _ in b:
            seen[i] = len(seqs[i])
    assert list(seen.values()) == sorted(seen.values(), reverse=True)  # longest first


def test_model_remains_trainable_after_extraction(tiny_fair_esm):
    plm = load_plm(tiny_fair_esm)
    collect(embed(plm, ["MKTAYIAK"]))
    out = plm.module(plm.tokens(["MKTAYIAK"]))["logits"].sum()
    out.backward()
    assert any(p.grad is not None for p in plm.module.parameters())
