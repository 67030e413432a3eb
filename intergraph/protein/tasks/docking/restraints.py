"""Per-residue interface probabilities for the docking score's restraint term (:mod:`grids`): from a trained
interface run, or the observed interface of a known complex (an oracle, for measuring what perfect restraints
would give).

Both come as arrays aligned with :meth:`grids.Body.rows` of each partner (its amino-acid residues with a Cα);
residues without a prediction get the mean of the partner's predictions, so that they add nothing to the centred
restraint term (p − p̄).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ....errors import InputError
from ...featurize import graph_nodes
from ...labels import interface_labels
from ...structure import Structure
from .grids import Body


def on_body(structure: Structure, rows: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Probabilities ``p`` (n,) of structure residues ``rows`` (n,) placed on the body's residues (n_b,)."""
    body = Body.rows(structure)
    value = dict(zip(np.asarray(rows).tolist(), np.asarray(p, dtype=np.float64).tolist()))
    if not value:
        raise InputError(f"{structure.source}: no interface predictions")
    fill = float(np.mean(list(value.values())))
    return np.array([value.get(int(r), fill) for r in body])


def predicted(run: str | Path | list, receptor: Structure, ligand: Structure) -> tuple[np.ndarray, np.ndarray]:
    """(receptor, ligand) probabilities from an interface run folder (or its loaded models: one, or one per
    fold, averaged)."""
    from ...run import load_models
    from ..interface.run import residue_probabilities

    models = load_models(run) if isinstance(run, (str, Path)) else run
    probs = residue_probabilities(models, receptor, ligand)
    return on_body(receptor, *probs["r"]), on_body(ligand, *probs["l"])


def observed(receptor: Structure, ligand: Structure, cutoff: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """(receptor, ligand) 0/1 labels of the complex as given: a residue is at the interface when one of its heavy
    atoms lies within ``cutoff`` Å of a partner's heavy atom (the interface task's "heavy" definition)."""
    labels = interface_labels(receptor, ligand, heavy_cutoff=cutoff)
    return (on_body(receptor, graph_nodes(receptor)[0], labels.receptor_heavy.astype(float)),
            on_body(ligand, graph_nodes(ligand)[0], labels.ligand_heavy.astype(float)))
