"""Tiny randomly initialised ESM-2 models, saved in each backend's native format by the tests themselves."""
from __future__ import annotations

import pytest
import torch

from intergraph.protein.plm.convert import fair_esm_to_transformers, save_fair_esm
from intergraph.protein.plm.pretrain import PretrainConfig, build_model


@pytest.fixture(scope="session")
def tiny_fair_esm(tmp_path_factory):
    torch.manual_seed(0)
    model, _ = build_model(PretrainConfig(fasta="", out="", layers=3, dim=32, heads=4))
    folder = tmp_path_factory.mktemp("fair")
    return save_fair_esm(model, folder / "esm2_t3_32D_tiny.pt", layers=3, dim=32, heads=4)


@pytest.fixture(scope="session")
def tiny_hf(tiny_fair_esm, tmp_path_factory):
    return fair_esm_to_transformers(tiny_fair_esm, tmp_path_factory.mktemp("hf") / "esm2_t3_32D_tiny")
