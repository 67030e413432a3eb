"""The ESM-2 family and where each checkpoint is looked for on disk."""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class PLMSpec:
    name: str
    layers: int
    dim: int
    heads: int
    parameters: str

    @property
    def hf_repo(self) -> str:
        return f"facebook/{self.name}"

    @property
    def files(self) -> tuple[str, str]:
        """fair-esm's two files: weights and contact regression."""
        return f"{self.name}.pt", f"{self.name}-contact-regression.pt"


ESM2 = {
    s.name: s
    for s in [
        PLMSpec("esm2_t6_8M_UR50D", 6, 320, 20, "8M"),
        PLMSpec("esm2_t12_35M_UR50D", 12, 480, 20, "35M"),
        PLMSpec("esm2_t30_150M_UR50D", 30, 640, 20, "150M"),
        PLMSpec("esm2_t33_650M_UR50D", 33, 1280, 20, "650M"),
        PLMSpec("esm2_t36_3B_UR50D", 36, 2560, 40, "3B"),
        PLMSpec("esm2_t48_15B_UR50D", 48, 5120, 40, "15B"),
    ]
}

#: our own small ESM-2-architecture model, trained on natural sequences, shipped with the package
DEFAULT_PLM = "esm2_t4_128D_intergraph"
#: the paper's model, whose real embeddings for 74 DB5 complexes are in the shared data
PAPER_PLM = "esm2_t33_650M_UR50D"


def packaged_weights() -> Path:
    return Path(str(resources.files("intergraph.protein.plm").joinpath("weights")))


def torch_hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_cache_snapshots(name: str) -> list[Path]:
    """Snapshot folders of ``facebook/<name>`` in the Hugging Face cache, newest first."""
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    home = Path(os.environ.get("HF_HUB_CACHE") or hf_home / "hub")
    root = home / f"models--facebook--{name}" / "snapshots"
    if not root.is_dir():
        return []
    found = (p for p in root.iterdir() if (p / "config.json").exists())
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def candidate_locations(name: str) -> list[Path]:
    """Everywhere a model called ``name`` is looked for, in order."""
    places = [packaged_weights() / f"{name}.pt", torch_hub_checkpoints() / f"{name}.pt"]
    extra = os.environ.get("INTERGRAPH_PLM_DIR")
    if extra:
        places.insert(0, Path(extra) / f"{name}.pt")
        places.insert(1, Path(extra) / name)
    places.extend(hf_cache_snapshots(name))
    return places
