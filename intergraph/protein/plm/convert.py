"""Converting a fair-esm ESM-2 checkpoint into a Hugging Face ``transformers`` folder (same weights)."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from ...errors import InputError
from .backends import load_fair_esm

_RENAMES = [
    (r"^embed_tokens\.", "esm.embeddings.word_embeddings."),
    (r"^layers\.(\d+)\.self_attn\.q_proj\.", r"esm.encoder.layer.\1.attention.self.query."),
    (r"^layers\.(\d+)\.self_attn\.k_proj\.", r"esm.encoder.layer.\1.attention.self.key."),
    (r"^layers\.(\d+)\.self_attn\.v_proj\.", r"esm.encoder.layer.\1.attention.self.value."),
    (r"^layers\.(\d+)\.self_attn\.out_proj\.", r"esm.encoder.layer.\1.attention.output.dense."),
    (r"^layers\.(\d+)\.self_attn_layer_norm\.", r"esm.encoder.layer.\1.attention.LayerNorm."),
    (r"^layers\.(\d+)\.fc1\.", r"esm.encoder.layer.\1.intermediate.dense."),
    (r"^layers\.(\d+)\.fc2\.", r"esm.encoder.layer.\1.output.dense."),
    (r"^layers\.(\d+)\.final_layer_norm\.", r"esm.encoder.layer.\1.LayerNorm."),
    (r"^emb_layer_norm_after\.", "esm.encoder.emb_layer_norm_after."),
    (r"^contact_head\.", "esm.contact_head."),
    (r"^lm_head\.weight$", "lm_head.decoder.weight"),
    (r"^lm_head\.", "lm_head."),
]


def fair_esm_to_transformers(checkpoint: str | Path, out: str | Path) -> Path:
    """Write ``out`` (config.json, model.safetensors, vocab and tokenizer files) from a fair-esm file."""
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    plm = load_fair_esm(Path(checkpoint))
    model = plm.module
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokens = sorted(plm.vocab, key=plm.vocab.get)
    (out / "vocab.txt").write_text("\n".join(tokens) + "\n")
    heads = model.attention_heads
    config = EsmConfig(
        vocab_size=len(tokens), mask_token_id=plm.vocab["<mask>"], pad_token_id=plm.pad_idx,
        hidden_size=plm.embed_dim, num_hidden_layers=plm.num_layers, num_attention_heads=heads,
        intermediate_size=4 * plm.embed_dim, max_position_embeddings=1026, position_embedding_type="rotary",
        emb_layer_norm_before=False, token_dropout=model.token_dropout, layer_norm_eps=1e-5,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, is_folding_model=False,
        name_or_path=plm.name,
    )
    hf = EsmForMaskedLM(config)
    state = {}
    for key, value in model.state_dict().items():
        if "rot_emb.inv_freq" in key:
            continue  # recomputed from the config
        new = key
        for pattern, repl in _RENAMES:
            if re.search(pattern, new):
                new = re.sub(pattern, repl, new)
                break
        state[new] = value
    missing, unexpected = hf.load_state_dict(state, strict=False)
    missing = [k for k in missing if "rotary" not in k and "position_ids" not in k]
    if missing or unexpected:
        raise RuntimeError(f"conversion left parameters unmatched: missing {missing}, unexpected {unexpected}")
    hf.save_pretrained(out)
    EsmTokenizer(str(out / "vocab.txt")).save_pretrained(out)
    return out


def save_fair_esm(model: torch.nn.Module, path: str | Path, layers: int, dim: int, heads: int,
                  half: bool = False) -> Path:
    """Save an ``esm.model.esm2.ESM2`` in fair-esm's own checkpoint layout (as the official files are)."""
    from .pretrain import PretrainConfig, export_fair_esm

    path = Path(path)
    if not path.name.startswith("esm2") or path.suffix != ".pt":
        raise InputError(f"{path}: fair-esm checkpoints are named esm2*.pt")
    cfg = PretrainConfig(fasta="", out=str(path.parent), layers=layers, dim=dim, heads=heads)
    return export_fair_esm(model, cfg, path.parent, name=path.stem, half=half)
