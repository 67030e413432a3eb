"""Docking decoys from our own global search (:mod:`..docking.search`): the well-packed, clash-free wrong
interfaces a real sampler proposes, which a quality model exists to reject.

Per target (its bound partners, or with ``inputs="unbound"`` its unbound structures; the search works in the
bodies' principal frames, so the files' pose changes nothing), one search under the weights of ``arm`` gives three
kinds of decoy, each a motion of the input ligand file against the input receptor file, labelled (fnat, iRMSD,
LRMSD, DockQ) against the bound complex and carrying its search score under the same weights:

- ``search-head``: the refined cluster heads, the best ``heads`` clusters by size and by best score (what
  ``protein dock`` returns: the poses a QA model re-ranks);
- ``search``: ``sampled`` of the poses the search kept (each rotation's best translation), at evenly spaced
  score ranks: half over the best quarter (the poses clustering sees), half over the rest;
- ``near-native``: the native funnel as the search sees it (every rotation within a step of the native one, at a
  third of the step, with its best translation within 4 Å of the native one; :func:`..docking.weights.native_funnel`),
  present whether or not the search ranked it: the refined near-native poses of targets the sampler misses, marked.
  For unbound inputs the native pose is where each unbound partner superposes on its bound self (Cα of the
  residues they share, :func:`native_motion`).

:func:`build` writes one CSV per target under ``out/targets/`` (resumable; reused only when ``out/config.json``
is the configuration asked for), skips and lists targets that fail, and sums the labels in ``out/summary.json``.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ....errors import InputError
from ....terminal import progress_bar
from ....train.config import claim_results_dir
from ...docking_metrics import kabsch, paired_partners
from ...structure import Structure
from ..docking import potential as pair_potential
from ..docking.grids import Body, potential_channels, receptor_grid, uses_interface
from ..docking.search import Poses, SearchConfig, dock_bodies, fitted_weights
from ..docking.weights import native_funnel
from .decoys import SEARCH_SOURCES as SOURCES
from .decoys import Decoy, labelled, read_decoys, write_decoys


@dataclass
class SearchDecoyConfig:
    arm: str = "shape+pair"      # fitted weights of the search (no restraints: decoys independent of any model)
    step: float = 30.0           # angular step of the rotation set (degrees)
    sampled: int = 300           # search poses per target across the score range
    heads: int = 20              # refined cluster heads per ranking (size, score)
    inputs: str = "bound"        # the partner files searched: bound | unbound (labels always against the bound)

    def __post_init__(self):
        if self.inputs not in INPUTS:
            raise InputError(f"decoy inputs are bound or unbound, not {self.inputs!r}")


INPUTS = {"bound": "b", "unbound": "u"}     # inputs -> the Decoy form


def sample_ranks(n_poses: int, n: int) -> np.ndarray:
    """Indices into poses sorted best first: ``n // 2`` evenly spaced over the best quarter, the rest evenly
    spaced over the other poses (all of a part when it holds fewer)."""
    quarter = max(1, n_poses // 4)
    parts = []
    for lo, hi, k in ((0, quarter, n // 2), (quarter, n_poses, n - n // 2)):
        if hi > lo and k > 0:
            parts.append(np.unique(np.linspace(lo, hi - 1, min(k, hi - lo)).round().astype(int)))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=int)


def native_motion(receptor: Structure, ligand: Structure, receptor_native: Structure,
                  ligand_native: Structure) -> tuple[np.ndarray, np.ndarray]:
    """The motion x ↦ R x + t of the ``ligand`` file that puts it at its native place against the ``receptor``
    file: with each partner superposed on its native self (Kabsch on the Cα of the residues they share,
    x ↦ Rr x + tr and x ↦ Rl x + tl), R = Rrᵀ Rl and t = Rrᵀ (tl − tr). The identity when the inputs are the
    native files."""
    motions = []
    for model, native, what in ((receptor, receptor_native, "receptor"), (ligand, ligand_native, "ligand")):
        m, n = paired_partners(model, native, what)
        ca = ~(np.isnan(m.backbone[:, 1]).any(-1) | np.isnan(n.backbone[:, 1]).any(-1))
        if ca.sum() < 3:
            raise InputError(f"{what} {model.source}: fewer than 3 Cα shared with the native; no native pose")
        motions.append(kabsch(m.backbone[ca, 1], n.backbone[ca, 1]))
    (rr, tr), (rl, tl) = motions
    return rr.T @ rl, rr.T @ (tl - tr)


def target_decoys(target: str, receptor: Structure, ligand: Structure, cfg: SearchDecoyConfig,
                  potential=None, native: tuple[Structure, Structure] | None = None) -> list[Decoy]:
    """The search decoys of one target from its input partners (``receptor``, ``ligand``), labelled against
    ``native`` = the bound (receptor, ligand) (default: the inputs are the bound complex)."""
    weights = fitted_weights(cfg.arm)
    if uses_interface(weights):
        raise InputError(f"arm {cfg.arm!r} scores interface restraints; decoys come from a search without them")
    table = pair_potential.read() if potential is None else potential
    search = SearchConfig(step=cfg.step)
    rec, lig = Body.from_structure(receptor), Body.from_structure(ligand)
    docked = dock_bodies(rec, lig, [weights], search, table, top=cfg.heads, rankings=("size", "score"))[0]
    heads = _unique(Poses(*(torch.cat([getattr(d.poses, f) for d in docked.values()])
                            for f in ("rotation", "translation", "score"))))
    found = docked["size"].raw
    found = found.take(found.score.argsort(descending=True))
    sampled = found.take(torch.as_tensor(sample_ranks(len(found), cfg.sampled)))
    pair = potential_channels(table, 3)
    grid = receptor_grid(rec, lig.radius, search.grid, pair)
    native = native or (receptor, ligand)
    place = lig.from_original(*native_motion(receptor, ligand, *native), rec)
    funnel = native_funnel(grid, lig, weights, pair, search, place)
    form = INPUTS[cfg.inputs]
    prefix = target if form == "b" else f"{target}_{form}"
    out = []
    for source, poses in zip(SOURCES, (heads, sampled, funnel)):
        for k in range(len(poses)):
            r, t = lig.to_original(poses.rotation[k], poses.translation[k], rec)
            out.append(labelled(target, f"{prefix}_{source}_{k}", source, r.numpy(), t.numpy(), receptor, ligand,
                                float(poses.score[k]), native, form))
    return out


def _unique(poses: Poses) -> Poses:
    """Poses without exact repeats (a head ranked both ways), first occurrence kept."""
    seen, keep = set(), []
    for k in range(len(poses)):
        key = tuple(np.round(torch.cat([poses.rotation[k].flatten(), poses.translation[k]]).numpy(), 6))
        if key not in seen:
            seen.add(key)
            keep.append(k)
    return poses.take(torch.tensor(keep, dtype=torch.long))


def build(targets: dict[str, Callable[[], tuple[Structure, Structure]]], cfg: SearchDecoyConfig, out: Path,
          overwrite: bool = False, log: Callable = print, progress: bool = True,
          natives: dict[str, Callable[[], tuple[Structure, Structure]]] | None = None) -> tuple[dict, list]:
    """Search decoys for every target (id → a loader of its input (receptor, ligand); ``natives``: id → a loader
    of its bound complex, default the inputs); one CSV per target under ``out/targets/``, a target already there
    read back (workers given the same targets in other orders share the folder). Returns the decoys per target
    and the skipped (target, reason)."""
    out = Path(out)
    config = {"targets": sorted(targets), "decoys": dataclasses.asdict(cfg), "arm_weights": fitted_weights(cfg.arm)}
    claim_results_dir(out, config, "decoys", overwrite)
    folder = out / "targets"
    folder.mkdir(exist_ok=True)
    table = pair_potential.read()
    got, skipped = {}, []
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("targets", total=len(targets))
        for cid in targets:     # in the order given: a second worker can take them in reverse
            path = folder / f"{cid}.csv"
            if path.exists() and not overwrite:
                got[cid] = read_decoys(path)
            else:
                try:
                    native = natives[cid]() if natives else None
                    got[cid] = target_decoys(cid, *targets[cid](), cfg, table, native)
                    write_decoys(got[cid], path)
                except (InputError, ValueError, OSError) as e:
                    skipped.append((cid, str(e)))
                    log(f"skipped {cid}: {e}")
            bar.advance(task)
    (out / "summary.json").write_text(json.dumps({"targets": summary(got), "skipped": skipped}, indent=2) + "\n")
    return got, skipped


def summary(decoys: dict[str, list[Decoy]]) -> dict:
    """Per target: decoys per source, and how many are acceptable (DockQ ≥ 0.23) / medium (≥ 0.49) per source."""
    out = {}
    for cid, ds in decoys.items():
        row = {}
        for source in SOURCES:
            q = np.array([d.labels["dockq"] for d in ds if d.source == source])
            row[source] = {"decoys": int(len(q)), "acceptable": int((q >= 0.23).sum()),
                           "medium": int((q >= 0.49).sum())}
        out[cid] = row
    return out
