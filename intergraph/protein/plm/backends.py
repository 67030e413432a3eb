"""Loading ESM-2 checkpoints from local files through fair-esm or Hugging Face ``transformers``.

The backend follows the checkpoint's form: a ``*.pt`` file is fair-esm's format
(``esm.pretrained.load_model_and_alphabet_local``), a folder with ``config.json`` is a transformers model
(``EsmModel.from_pretrained``). Nothing is downloaded here; :mod:`.download` does that for online users.
"""
from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...errors import IntergraphError, MissingError
from .registry import ESM2, candidate_locations


class PLMNotFound(MissingError):
    """No weights for the requested model; the message names what was expected and where."""


class PLMBackendError(IntergraphError, ImportError):
    """The package a backend needs is missing, or is a different package of the same name."""


def fair_esm():
    """The fair-esm module, or a clear error (EvolutionaryScale's ``esm`` installs the same module name)."""
    try:
        import esm
    except ImportError:
        raise PLMBackendError("fair-esm is not installed: pip install fair-esm") from None
    pretrained = getattr(esm, "pretrained", None)
    if pretrained is None or not hasattr(pretrained, "load_model_and_alphabet_local") or not hasattr(esm, "Alphabet"):
        raise PLMBackendError(
            f"the installed 'esm' module ({getattr(esm, '__file__', '?')}) is EvolutionaryScale's esm package "
            "(ESM3/ESM C), not fair-esm; both install a module named 'esm'. Run: pip uninstall -y esm && "
            "pip install fair-esm"
        )
    return esm


def fingerprint(path: Path) -> str:
    """Cheap identity of a checkpoint: size plus the first and last MiB."""
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 1 << 20:
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
    return h.hexdigest()[:8]


@dataclass
class PLM:
    """A loaded protein language model behind one interface, whatever the backend."""

    name: str
    backend: str  # "fair-esm" or "transformers"
    module: torch.nn.Module
    vocab: dict[str, int]
    cls_idx: int
    eos_idx: int
    pad_idx: int
    num_layers: int
    embed_dim: int
    source: str = ""
    fp: str = ""
    _unk: int = field(default=3, repr=False)

    @property
    def id(self) -> str:
        """Store key of the model: the official name, or name@fingerprint for any other weights."""
        return self.name if self.name in ESM2 else f"{self.name}@{self.fp}"

    def tokens(self, seqs: list[str]) -> torch.Tensor:
        width = max(len(s) for s in seqs) + 2
        out = torch.full((len(seqs), width), self.pad_idx, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, 0] = self.cls_idx
            out[i, 1:len(s) + 1] = torch.tensor([self.vocab.get(c, self._unk) for c in s], dtype=torch.long)
            out[i, len(s) + 1] = self.eos_idx
        return out

    def hidden_states(self, tokens: torch.Tensor, layers: list[int]) -> dict[int, torch.Tensor]:
        """Per-layer representations (B, T, D) for the requested layers (0 = token embedding)."""
        if self.backend == "fair-esm":
            out = self.module(tokens, repr_layers=layers)
            return {k: out["representations"][k] for k in layers}
        out = self.module(input_ids=tokens, attention_mask=(tokens != self.pad_idx).long(), output_hidden_states=True)
        return {k: out.hidden_states[k] for k in layers}

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device


def _allow_esm_pickles() -> None:
    # fair-esm checkpoints pickle an argparse.Namespace; allow just that under torch's safe loader
    torch.serialization.add_safe_globals([argparse.Namespace])


def load_fair_esm(path: Path) -> PLM:
    esm = fair_esm()
    if not path.name.startswith("esm2"):
        raise PLMNotFound(f"{path}: fair-esm reads the architecture from the file name, which must start with 'esm2'")
    regression = path.with_name(path.stem + "-contact-regression.pt")
    if not regression.exists():
        raise PLMNotFound(f"{path}: fair-esm needs {regression.name} beside the weights (the contact regression file)")
    _allow_esm_pickles()
    model, alphabet = esm.pretrained.load_model_and_alphabet_local(str(path))
    model.eval()
    vocab = {t: i for i, t in enumerate(alphabet.all_toks)}
    return PLM(path.stem, "fair-esm", model, vocab, alphabet.cls_idx, alphabet.eos_idx, alphabet.padding_idx,
               model.num_layers, model.embed_dim, str(path), fingerprint(path), alphabet.unk_idx)


def load_transformers(path: Path, name: str | None = None) -> PLM:
    try:
        from transformers import AutoTokenizer, EsmModel
    except ImportError:
        raise PLMBackendError("transformers is not installed: pip install transformers") from None
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = EsmModel.from_pretrained(str(path), add_pooling_layer=False, local_files_only=True)
    model.eval()
    cfg = model.config
    name = name or (cfg.name_or_path and Path(cfg.name_or_path).name) or path.name
    if path.parent.name == "snapshots":  # a Hugging Face cache snapshot: models--facebook--NAME/snapshots/HASH
        name = path.parent.parent.name.split("--")[-1]
    return PLM(name, "transformers", model, tokenizer.get_vocab(), tokenizer.cls_token_id, tokenizer.eos_token_id,
               tokenizer.pad_token_id, cfg.num_hidden_layers, cfg.hidden_size, str(path), fingerprint(path),
               tokenizer.unk_token_id)


def load_plm(model: str | Path) -> PLM:
    """Load a model by registry name (searched in the usual caches) or by path (file or folder)."""
    path = Path(model).expanduser()
    if path.exists():
        if path.is_file():
            return load_fair_esm(path)
        if (path / "config.json").exists():
            return load_transformers(path)
        inner = sorted(path.glob("esm2*.pt"))
        inner = [p for p in inner if not p.name.endswith("-contact-regression.pt")]
        if len(inner) == 1:
            return load_fair_esm(inner[0])
        raise PLMNotFound(f"{path}: neither a fair-esm checkpoint (esm2*.pt) nor a transformers folder (config.json)")
    name = str(model)
    for place in candidate_locations(name):
        if place.is_file():
            return load_fair_esm(place)
        if place.is_dir() and (place / "config.json").exists():
            return load_transformers(place, name)
    looked = "\n  ".join(str(p) for p in candidate_locations(name)) or "(nowhere)"
    known = name in ESM2
    how = (
        f"put {name}.pt and {name}-contact-regression.pt (fair-esm) into {candidate_locations(name)[1].parent}, or a "
        f"Hugging Face snapshot of facebook/{name} into the HF cache, or pass --model PATH. Online: "
        f"`intergraph plm download {name}`."
        if known
        else f"{name!r} is not an ESM-2 name ({', '.join(ESM2)}); pass the path of a checkpoint file or folder."
    )
    raise PLMNotFound(f"weights for {name} not found. Looked in:\n  {looked}\n{how}")
