"""Pretraining our own PLM: loss goes down, exact resume after a crash, export loads like real ESM-2."""
from __future__ import annotations

import json

import pytest
import torch

from intergraph.protein.plm import pretrain as pt
from intergraph.protein.plm.backends import load_plm
from intergraph.protein.plm.extract import embed


def config(data_root, out, steps=6):
    return pt.PretrainConfig(fasta=str(data_root / "sequences" / "natural_small.fasta"), out=str(out), layers=1,
                             dim=16, heads=2, crop=48, tokens_per_batch=400, steps=steps, eval_every=3, save_every=1,
                             warmup=2, val_fraction=0.1, val_sequences=20, seed=3)


def test_stop_step_keeps_the_schedule(data_root, tmp_path):
    cfg = config(data_root, tmp_path / "s")
    cfg.stop_step = 3
    assert pt.pretrain(cfg, log=lambda m: None)["steps"] == 3


def test_held_out_split_is_stable():
    seqs = [f"MK{i}" for i in range(2000)]
    held = [s for s in seqs if pt.is_validation(s, 0.05)]
    assert 50 < len(held) < 150 and held == [s for s in reversed(seqs) if pt.is_validation(s, 0.05)][::-1]


def test_masking_follows_esm2(data_root):
    model, alphabet = pt.build_model(pt.PretrainConfig(fasta="", out="", layers=1, dim=16, heads=2))
    tok = pt.Tokens(alphabet)
    tokens = tok.batch(["ACDEFGHIKLMNPQRSTVWY" * 50] * 20)
    corrupted, sel = tok.corrupt(tokens, torch.Generator().manual_seed(0))
    frac = sel.sum() / tok.residue_mask(tokens).sum()
    assert 0.14 < frac < 0.16
    masked = (corrupted[sel] == alphabet.mask_idx).float().mean()
    unchanged = (corrupted[sel] == tokens[sel]).float().mean()
    assert 0.78 < masked < 0.82 and 0.09 < unchanged < 0.12  # 10 % kept + random hits of the same letter
    assert not (sel & ~tok.residue_mask(tokens)).any()


def test_train_export_and_load_through_the_esm2_path(data_root, tmp_path):
    final = pt.pretrain(config(data_root, tmp_path / "run"), log=lambda m: None)
    assert final["val_perplexity"] > 1 and final["unigram_perplexity"] > 1
    for name in ("config.yaml", "metrics.csv", "metrics.json", "last.ckpt", "perplexity.png",
                 "esm2_t1_16D_intergraph.pt", "esm2_t1_16D_intergraph-contact-regression.pt"):
        assert (tmp_path / "run" / name).exists(), name
    plm = load_plm(tmp_path / "run" / "esm2_t1_16D_intergraph.pt")
    (batch,) = list(embed(plm, ["MKTAYIAKQR"]))
    assert batch[0][1].shape == (10, 16)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 6


def test_resume_after_a_crash_is_exact(data_root, tmp_path):
    straight = pt.pretrain(config(data_root, tmp_path / "a"), log=lambda m: None)

    class Crash(RuntimeError):
        pass

    def crash_at_4(total, start):
        def on_step(step, loss):
            if step == 4:
                raise Crash
        return on_step

    with pytest.raises(Crash):
        pt.pretrain(config(data_root, tmp_path / "b"), progress=crash_at_4, log=lambda m: None)
    resumed = pt.pretrain(config(data_root, tmp_path / "b"), log=lambda m: None)
    a = torch.load(tmp_path / "a" / "last.ckpt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.ckpt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    assert resumed["val_perplexity"] == straight["val_perplexity"]
