"""Reading embeddings computed elsewhere: ``esm extract`` outputs (``*.pt``) and ``.npz`` archives.

Files from strangers are read without unpickling arbitrary objects (``torch.load(weights_only=True)``,
``np.load(allow_pickle=False)``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import InputError
from ..fasta import PROTEIN_LETTERS


class ImportProblem(InputError):
    def __init__(self, source: str | Path, problem: str):
        self.source, self.problem = str(source), problem
        super().__init__(f"{source}: {problem}")


def _check(path: Path, seq: str, emb: np.ndarray) -> None:
    bad = set(seq) - PROTEIN_LETTERS
    if bad:
        raise ImportProblem(path, f"sequence has non-protein letters {''.join(sorted(bad))!r}")
    if emb.ndim != 2 or emb.shape[0] != len(seq):
        raise ImportProblem(path, f"embedding of shape {tuple(emb.shape)} for a {len(seq)}-residue sequence")
    if not np.isfinite(emb).all():
        raise ImportProblem(path, "embedding has non-finite values")


def read_npz(path: str | Path) -> tuple[str, np.ndarray, dict]:
    """(sequence, L×D embedding, other scalar fields) from an archive with ``seq`` and ``emb`` arrays."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "seq" not in z or "emb" not in z:
                raise ImportProblem(path, f"needs arrays 'seq' and 'emb' (has {', '.join(z.files)})")
            seq = str(z["seq"])
            emb = np.asarray(z["emb"])
            extra = {k: z[k].item() if z[k].ndim == 0 else None for k in z.files if k not in ("seq", "emb")}
    except (OSError, ValueError) as e:
        if isinstance(e, ImportProblem):
            raise
        raise ImportProblem(path, f"not a readable .npz archive ({e})") from None
    _check(path, seq, emb)
    return seq, emb, {k: v for k, v in extra.items() if v is not None}


def read_esm_extract(path: str | Path, sequences: dict[str, str]) -> tuple[str, str, dict[int, np.ndarray]]:
    """(label, sequence, {layer: L×D}) from a fair-esm ``extract`` output; the sequence comes from
    ``sequences`` (FASTA header -> sequence), since extract files do not store it."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling problem is the file's
        first = str(e).splitlines()[0][:200]
        raise ImportProblem(path, f"not a safe torch file ({type(e).__name__}: {first})") from None
    if not isinstance(data, dict) or "representations" not in data:
        raise ImportProblem(path, "not an `esm extract` output (no 'representations')")
    label = str(data.get("label", path.stem))
    seq = sequences.get(label) or sequences.get(label.split()[0])
    if seq is None:
        raise ImportProblem(path, f"label {label!r} not found in the FASTA given for sequences")
    reps = {int(k): v.float().numpy() for k, v in data["representations"].items()}
    for emb in reps.values():
        if emb.shape[0] > len(seq):
            raise ImportProblem(path, f"{emb.shape[0]} rows for a {len(seq)}-residue sequence")
        if emb.shape[0] < len(seq):
            raise ImportProblem(path, f"{emb.shape[0]} rows for a {len(seq)}-residue sequence: the sequence was "
                                      "truncated when extracting (esm extract --truncation_seq_length)")
        _check(path, seq, emb)
    return label, seq, reps
