"""Loading through both backends' public paths, agreement of their embeddings, and clear failures."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from intergraph.protein.plm import backends
from intergraph.protein.plm.backends import PLMBackendError, PLMNotFound, load_plm
from intergraph.protein.plm.extract import LayerSpec, embed

SEQS = ["MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ", "GSHMLEDPVDAFQ", "ACDEFGHIKLMNPQRSTVWYXBZUO" * 3]


def embeddings(plm, spec="last"):
    out = {}
    for batch in embed(plm, SEQS, LayerSpec.parse(spec), token_budget=64):
        out.update(batch)
    return [out[i] for i in range(len(SEQS))]


def test_fair_esm_and_transformers_give_the_same_embeddings(tiny_fair_esm, tiny_hf):
    a = load_plm(tiny_fair_esm)
    b = load_plm(tiny_hf)
    assert (a.backend, b.backend) == ("fair-esm", "transformers")
    assert a.num_layers == b.num_layers == 3 and a.embed_dim == b.embed_dim == 32
    assert a.vocab == b.vocab
    for spec in ("last", "0,2", "mean2"):
        for x, y in zip(embeddings(a, spec), embeddings(b, spec)):
            np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-4)


def test_embeddings_are_per_residue_and_batch_independent(tiny_fair_esm):
    plm = load_plm(tiny_fair_esm)
    together = embeddings(plm)
    alone = [next(iter(embed(plm, [s], token_budget=10_000)))[0][1] for s in SEQS]
    for seq, x, y in zip(SEQS, together, alone):
        assert x.shape == (len(seq), 32)
        np.testing.assert_allclose(x, y, atol=1e-5)


def test_model_id_names_non_official_weights_by_fingerprint(tiny_fair_esm):
    plm = load_plm(tiny_fair_esm)
    assert plm.id.startswith("esm2_t3_32D_tiny@") and len(plm.id.split("@")[1]) == 8


def test_registry_name_found_in_torch_hub_cache(tiny_fair_esm, tmp_path, monkeypatch):
    import shutil

    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    for f in tiny_fair_esm.parent.glob("esm2_t3_32D_tiny*"):
        shutil.copy(f, hub / "checkpoints" / f.name)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    assert load_plm("esm2_t3_32D_tiny").backend == "fair-esm"


def test_missing_weights_name_the_file_and_the_remedy(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(PLMNotFound) as e:
        load_plm("esm2_t33_650M_UR50D")
    msg = str(e.value)
    assert "esm2_t33_650M_UR50D.pt" in msg and "contact-regression" in msg and "plm download" in msg
    assert str(tmp_path / "hub" / "checkpoints") in msg
    with pytest.raises(PLMNotFound, match="not an ESM-2 name"):
        load_plm("esm3_large")


def test_missing_regression_file_is_explained(tiny_fair_esm, tmp_path):
    import shutil

    lone = tmp_path / tiny_fair_esm.name
    shutil.copy(tiny_fair_esm, lone)
    with pytest.raises(PLMNotFound, match="contact-regression"):
        load_plm(lone)


def test_evolutionaryscale_esm_is_detected(monkeypatch):
    fake = types.ModuleType("esm")
    fake.__file__ = "/site-packages/esm/__init__.py"
    fake.pretrained = types.SimpleNamespace(ESM3_sm_open_v0=None)
    monkeypatch.setitem(sys.modules, "esm", fake)
    with pytest.raises(PLMBackendError, match="EvolutionaryScale"):
        backends.fair_esm()


def test_the_packaged_default_plm_loads_through_the_esm2_path():
    from intergraph.protein.plm.registry import DEFAULT_PLM

    plm = load_plm(DEFAULT_PLM)
    assert plm.backend == "fair-esm" and plm.num_layers == 4 and plm.embed_dim == 128
    assert plm.id.startswith(DEFAULT_PLM + "@")
    (batch,) = list(embed(plm, ["MKTAYIAKQR"]))
    assert batch[0][1].shape == (10, 128) and np.isfinite(batch[0][1]).all()
