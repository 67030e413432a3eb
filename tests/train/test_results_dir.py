"""A resumable results folder holds one configuration: the same one is accepted, another refused with the
differences named, unless overwritten."""
from __future__ import annotations

import json

import pytest

from intergraph.errors import InputError
from intergraph.train.config import claim_results_dir


def test_results_dir_accepts_its_own_configuration_and_names_the_differences_of_another(tmp_path):
    config = {"ids": ["A", "B"], "search": {"step": 30.0, "rank_by": "score"}}
    out = claim_results_dir(tmp_path / "r", config, "a benchmark")
    assert json.loads((out / "config.json").read_text()) == config
    (out / "items").mkdir()
    assert claim_results_dir(out, json.loads(json.dumps(config)), "a benchmark") == out     # a resume
    other = {"ids": ["A", "B"], "search": {"step": 15.0, "rank_by": "score"}}
    with pytest.raises(InputError, match=r"a benchmark made with another configuration \(search.step: 30.0 -> 15.0\)"):
        claim_results_dir(out, other, "a benchmark")
    claim_results_dir(out, other, "a benchmark", overwrite=True)
    assert json.loads((out / "config.json").read_text()) == other and (out / "items").is_dir()
