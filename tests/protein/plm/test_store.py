"""The LMDB embedding store: round trips, names, summaries, read-only use, and SIGKILL at any moment."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from intergraph.protein.plm.store import EmbeddingStore, StoreError, decode, encode


def test_round_trip_float16_and_names(tmp_path):
    rng = np.random.default_rng(0)
    items = [("MKTAYIAK", rng.normal(size=(8, 16)).astype(np.float32)), ("GSH", rng.normal(size=(3, 16)))]
    with EmbeddingStore(tmp_path / "s") as s:
        assert s.put_many("m1", "33", items, names=["a", None]) == 2
        for seq, emb in items:
            got = s.get("m1", "33", seq)
            assert got.dtype == np.float16 and got.shape == emb.shape
            np.testing.assert_allclose(got, emb, atol=5e-3, rtol=1e-3)
        assert s.get("m1", "32", "MKTAYIAK") is None and s.get("m2", "33", "MKTAYIAK") is None
        assert s.missing("m1", "33", ["GSH", "NEW"]) == ["NEW"]
        seq, emb = s.get_named("m1", "33", "a")
        assert seq == "MKTAYIAK" and emb.shape == (8, 16)
        s.put_many("m10", "33", items[:1])   # another model whose id starts alike: not among m1's sequences
        assert sorted(s.sequences("m1", "33")) == ["GSH", "MKTAYIAK"] and list(s.sequences("m1", "32")) == []
        (summary, _) = s.summary()
        assert (summary.model, summary.layers, summary.count, summary.residues, summary.dim) == ("m1", "33", 2, 11, 16)
    with EmbeddingStore(tmp_path / "s", readonly=True) as r:
        assert r.has("m1", "33", "GSH")
        with pytest.raises(Exception):
            r.put_many("m1", "33", items)


def test_bad_entries_are_refused():
    with pytest.raises(StoreError, match="does not match"):
        encode("MKT", np.zeros((4, 2)))
    with pytest.raises(StoreError, match="non-finite"):
        encode("MK", np.array([[0.0, np.nan], [1, 1]]))
    seq, emb = decode(encode("MK", np.ones((2, 3))))
    assert seq == "MK" and emb.shape == (2, 3)


def test_readonly_open_of_a_missing_store(tmp_path):
    with pytest.raises(StoreError, match="no embedding store"):
        EmbeddingStore(tmp_path / "none", readonly=True)


@pytest.mark.timeout(300)
def test_sigkill_at_any_moment_never_corrupts_the_store(tiny_fair_esm, tmp_path):
    """Kill `intergraph plm embed` with SIGKILL several times mid-run; every stored entry must stay exact,
    and a final run must complete the rest."""
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(rng.randint(20, 300))) for _ in range(400)]
    fasta = tmp_path / "s.fasta"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "intergraph", "plm", "embed", "--model", str(tiny_fair_esm), "--fasta", str(fasta),
           "--store", str(store), "--token-budget", "256", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    counts = []

    def stored() -> int:
        try:
            with EmbeddingStore(store, readonly=True) as s:
                return sum(x.count for x in s.summary())
        except StoreError:  # not created yet
            return 0

    for _ in range(3):
        before = stored()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.time() + 120
        while stored() == before and p.poll() is None and time.time() < deadline:
            time.sleep(0.05)  # wait until this run has committed something, then kill it at a random moment
        time.sleep(rng.random() * 0.3)
        p.send_signal(signal.SIGKILL)
        p.wait()
        counts.append(stored())
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    from intergraph.protein.plm.backends import load_plm
    from intergraph.protein.plm.extract import embed

    plm = load_plm(tiny_fair_esm)
    expected = {}
    for batch in embed(plm, seqs, token_budget=4096):
        expected.update(batch)
    with EmbeddingStore(store, readonly=True) as s:
        (summary,) = s.summary()
        assert summary.count == len(set(seqs))
        for i, seq in enumerate(seqs):
            np.testing.assert_allclose(s.get(plm.id, "3", seq), expected[i], atol=2e-3, rtol=1e-2)
    assert counts and counts == sorted(counts)  # progress kept across kills, never lost
    assert 0 < counts[0] < len(set(seqs)), f"the kills should land mid-run: {counts}"
