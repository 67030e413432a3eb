"""Pretraining our own small ESM-2-architecture masked language model (the offline default PLM).

Same architecture class, alphabet and masking scheme as ESM-2 (fair-esm's ``ESM2``, 15 % of residues
selected, of those 80 % ``<mask>``, 10 % a random amino acid, 10 % unchanged). The result is written in
fair-esm's checkpoint format (``esm2_*.pt`` + ``*-contact-regression.pt``) so the same loading path as
real ESM-2 weights loads it. Runs are resumable: ``last.ckpt`` holds model, optimiser, schedule, data
position and random states.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from ...errors import InputError
from ...graph.io import atomic_save
from ..fasta import read_fasta


@dataclass
class PretrainConfig:
    fasta: str
    out: str
    layers: int = 4
    dim: int = 128
    heads: int = 8
    crop: int = 256
    tokens_per_batch: int = 8192
    steps: int = 4000  # length of the learning-rate schedule
    stop_step: int = 0  # stop (and export) at this step, on the same schedule; 0 = at ``steps``
    minutes: float = 0.0  # stop early (and save) after this wall time; 0 = no limit
    lr: float = 2e-3
    warmup: int = 200
    weight_decay: float = 0.01
    val_fraction: float = 0.05
    val_sequences: int = 1000
    eval_every: int = 250
    save_every: int = 100
    seed: int = 0
    threads: int = 0  # 0 = torch default
    device: str = "auto"  # auto = cuda when available

    @property
    def model_name(self) -> str:
        return f"esm2_t{self.layers}_{self.dim}D_intergraph"


def is_validation(seq: str, fraction: float) -> bool:
    """Held-out membership by a hash of the sequence: stable across runs, orders and machines."""
    return int(hashlib.sha256(seq.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def build_model(cfg: PretrainConfig):
    import esm

    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(num_layers=cfg.layers, embed_dim=cfg.dim, attention_heads=cfg.heads,
                                alphabet=alphabet, token_dropout=True)
    return model, alphabet


class Tokens:
    """ESM-2 token ids for a list of sequences, cropped, with <cls>/<eos> and right padding."""

    def __init__(self, alphabet):
        self.a = alphabet
        self.table = {c: alphabet.get_idx(c) for c in "ACDEFGHIKLMNPQRSTVWYXBZUO"}
        self.standard = torch.tensor([alphabet.get_idx(c) for c in "ACDEFGHIKLMNPQRSTVWY"])

    def batch(self, seqs: list[str]) -> torch.Tensor:
        width = max(len(s) for s in seqs) + 2
        out = torch.full((len(seqs), width), self.a.padding_idx, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, 0] = self.a.cls_idx
            out[i, 1:len(s) + 1] = torch.tensor([self.table[c] for c in s])
            out[i, len(s) + 1] = self.a.eos_idx
        return out

    def residue_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        return (tokens != self.a.padding_idx) & (tokens != self.a.cls_idx) & (tokens != self.a.eos_idx)

    def corrupt(self, tokens: torch.Tensor, g: torch.Generator, p: float = 0.15, eval_mode: bool = False):
        """ESM-2 masking: returns (corrupted tokens, selected positions)."""
        selected = (torch.rand(tokens.shape, generator=g) < p) & self.residue_mask(tokens)
        corrupted = tokens.clone()
        if eval_mode:
            corrupted[selected] = self.a.mask_idx
            return corrupted, selected
        r = torch.rand(tokens.shape, generator=g)
        corrupted[selected & (r < 0.8)] = self.a.mask_idx
        rand_pos = selected & (r >= 0.8) & (r < 0.9)
        corrupted[rand_pos] = self.standard[torch.randint(len(self.standard), (int(rand_pos.sum()),), generator=g)]
        return corrupted, selected


def crop(seq: str, length: int, rng: random.Random) -> str:
    if len(seq) <= length:
        return seq
    start = rng.randrange(len(seq) - length + 1)
    return seq[start:start + length]


def batches(seqs: list[str], cfg: PretrainConfig, epoch: int):
    """Shuffled batches under a padded-token budget; deterministic in (seed, epoch)."""
    rng = random.Random(cfg.seed * 1_000_003 + epoch)
    order = list(range(len(seqs)))
    rng.shuffle(order)
    batch: list[str] = []
    width = 0
    for i in order:
        s = crop(seqs[i], cfg.crop, rng)
        w = max(width, len(s) + 2)
        if batch and w * (len(batch) + 1) > cfg.tokens_per_batch:
            yield batch
            batch, w = [], len(s) + 2
        batch.append(s)
        width = w
    if batch:
        yield batch


def unigram_log_probs(seqs: list[str], tok: Tokens, vocab: int) -> torch.Tensor:
    counts = torch.ones(vocab)  # add-one smoothing
    for s in seqs:
        for c, n in zip(*np.unique(list(s), return_counts=True)):
            counts[tok.table[c]] += int(n)
    counts[[tok.a.padding_idx, tok.a.cls_idx, tok.a.eos_idx, tok.a.mask_idx]] = 0
    return torch.log(counts / counts.sum())


@torch.no_grad()
def evaluate(model, tok: Tokens, val: list[str], cfg: PretrainConfig, unigram: torch.Tensor) -> tuple[float, float]:
    """(model perplexity, unigram perplexity) on the same fixed masked positions of the held-out set."""
    model.eval()
    g = torch.Generator().manual_seed(12345)
    rng = random.Random(12345)
    nll = uni = 0.0
    n = 0
    seqs = [crop(s, cfg.crop, rng) for s in val]
    for i in range(0, len(seqs), 32):
        tokens = tok.batch(seqs[i:i + 32])
        corrupted, sel = tok.corrupt(tokens, g, eval_mode=True)
        if not sel.any():
            continue
        device = next(model.parameters()).device
        logits = model(corrupted.to(device))["logits"].float().cpu()
        nll += F.cross_entropy(logits[sel], tokens[sel], reduction="sum").item()
        uni += -unigram[tokens[sel]].sum().item()
        n += int(sel.sum())
    model.train()
    return math.exp(nll / n), math.exp(uni / n)


def export_fair_esm(model, cfg: PretrainConfig, out: Path, name: str | None = None, half: bool = True) -> Path:
    """Write ``<name>.pt`` and its contact-regression file in fair-esm's checkpoint layout."""
    name = name or cfg.model_name
    dtype = torch.float16 if half else torch.float32
    state = {k: v.detach().to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    regression = {k: state.pop(k) for k in list(state) if k.startswith("contact_head.regression")}
    args = argparse.Namespace(encoder_layers=cfg.layers, encoder_embed_dim=cfg.dim,
                              encoder_attention_heads=cfg.heads, token_dropout=True)
    path = Path(out) / f"{name}.pt"
    atomic_save({"model": state, "cfg": {"model": args}}, path)
    atomic_save({"model": regression}, Path(out) / f"{name}-contact-regression.pt")
    return path


def pretrain(cfg: PretrainConfig, progress: Callable | None = None, log: Callable[[str], None] = print) -> dict:
    """Train (or resume) and export; returns the final metrics."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    records = list(read_fasta(cfg.fasta))
    seqs = list(dict.fromkeys(s for _, s in records))
    train = [s for s in seqs if not is_validation(s, cfg.val_fraction)]
    val_all = [s for s in seqs if is_validation(s, cfg.val_fraction)]
    val = val_all[: cfg.val_sequences]
    if not train or not val:
        raise InputError(f"{cfg.fasta}: {len(train)} training and {len(val)} validation sequences; need both")
    (out / "config.yaml").write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    model, alphabet = build_model(cfg)
    model.to(device)
    tok = Tokens(alphabet)
    unigram = unigram_log_probs(train, tok, len(alphabet.all_toks))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * max(0.05, 1 - s / max(cfg.steps, 1)))
    step, epoch, position, tokens_seen, elapsed = 0, 0, 0, 0, 0.0
    g = torch.Generator().manual_seed(cfg.seed)
    ckpt_path = out / "last.ckpt"
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        step, epoch, position = ck["step"], ck["epoch"], ck["position"]
        tokens_seen, elapsed = ck["tokens"], ck["elapsed"]
        g.set_state(ck["generator"].cpu())
        torch.set_rng_state(ck["torch_rng"].cpu())
        log(f"resumed from step {step}")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{cfg.model_name}: {n_params:,} parameters; {len(train):,} training / {len(val_all):,} held-out sequences "
        f"({len(val):,} used for validation)")

    metrics_path = out / "metrics.csv"
    new_file = not metrics_path.exists()
    metrics = open(metrics_path, "a", newline="")
    writer = csv.writer(metrics)
    if new_file:
        writer.writerow(["step", "train_loss", "val_perplexity", "unigram_perplexity", "tokens", "seconds"])

    def save():
        atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                     "step": step, "epoch": epoch, "position": position, "tokens": tokens_seen,
                     "elapsed": elapsed, "generator": g.get_state(), "torch_rng": torch.get_rng_state()}, ckpt_path)

    model.train()
    started = time.perf_counter() - elapsed
    running = None
    bar = progress(cfg.steps, step) if progress else None
    stop = False
    last = min(cfg.stop_step or cfg.steps, cfg.steps)
    while step < last and not stop:
        for k, batch in enumerate(batches(train, cfg, epoch)):
            if k < position:
                continue
            tokens = tok.batch(batch)
            corrupted, sel = tok.corrupt(tokens, g)
            tokens, corrupted, sel = tokens.to(device), corrupted.to(device), sel.to(device)
            logits = model(corrupted)["logits"]
            loss = F.cross_entropy(logits[sel], tokens[sel])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            position = k + 1
            tokens_seen += int(tok.residue_mask(tokens).sum())
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            elapsed = time.perf_counter() - started
            if bar:
                bar(step, running)
            val_ppl = uni_ppl = ""
            if step % cfg.eval_every == 0 or step == cfg.steps:
                val_ppl, uni_ppl = evaluate(model, tok, val, cfg, unigram)
                log(f"step {step}: train loss {running:.3f}, validation perplexity {val_ppl:.2f} "
                    f"(unigram {uni_ppl:.2f})")
            if step % cfg.save_every == 0 or val_ppl != "":
                writer.writerow([step, f"{running:.4f}", val_ppl, uni_ppl, tokens_seen, f"{elapsed:.1f}"])
                metrics.flush()
                save()
            if step >= last or (cfg.minutes and elapsed > cfg.minutes * 60):
                stop = True
                break
        else:
            epoch, position = epoch + 1, 0
    val_ppl, uni_ppl = evaluate(model, tok, val, cfg, unigram)
    writer.writerow([step, f"{running:.4f}" if running is not None else "", val_ppl, uni_ppl, tokens_seen,
                     f"{elapsed:.1f}"])
    metrics.close()
    save()
    path = export_fair_esm(model, cfg, out)
    final = {"model": cfg.model_name, "parameters": n_params, "steps": step, "tokens": tokens_seen,
             "seconds": round(elapsed, 1), "val_perplexity": round(val_ppl, 3), "unigram_perplexity": round(uni_ppl, 3),
             "train_sequences": len(train), "heldout_sequences": len(val_all), "val_sequences_used": len(val),
             "weights": str(path)}
    (out / "metrics.json").write_text(json.dumps(final, indent=1))
    plot_curve(metrics_path, out / "perplexity.png")
    return final


def plot_curve(metrics_csv: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in csv.DictReader(open(metrics_csv)) if r["val_perplexity"]]
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot(steps, [float(r["val_perplexity"]) for r in rows], marker="o", label="model (held-out)")
    ax.plot(steps, [float(r["unigram_perplexity"]) for r in rows], ls="--", label="unigram baseline")
    ax.set_xlabel("step")
    ax.set_ylabel("masked-token perplexity")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
