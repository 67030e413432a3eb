"""Quality of a single-chain model against its native: GDT_TS, TM-score and Cα-lDDT (global and per residue).

Residues are paired by number and insertion code (or, where the numbering differs, by a global sequence
alignment); every score is normalised by the native's Cα count L, so missing model residues count against it.

- GDT_TS = ¼ Σ_{c ∈ 1,2,4,8 Å} max_sup |{i : d_i < c}| / L, the maximum over superpositions found from seed
  windows of paired residues (lengths n, n/2, n/4, … ≥ 4; stride 1 up to 8 residues, else length/8), each
  re-fitted on the residues within c, up to 20 times.
- TM-score = max_sup (1/L) Σ_i 1 / (1 + (d_i/d0)²), d0 = 1.24 (L − 15)^⅓ − 1.8 (at least 0.5), from the same
  seeds, re-fitted on the residues with d_i < clip(d0, 4.5, 8) Å.
- lDDT (Cα) = mean over t ∈ {0.5, 1, 2, 4} Å of the fraction of native pairs (i ≠ j, native distance < 15 Å)
  whose model distance differs by less than t; a pair with a residue missing from the model is not preserved.
  Per residue: the same over the pairs that involve it.

These are the definitions of the ``psr_casp13`` labels (its SOURCES.md), which the tests check.

Shapes: paired coordinates (n, 3); seed masks (S, n); per-residue lDDT (L,), NaN where a residue has no pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .structure import Structure

GDT_CUTOFFS = (1.0, 2.0, 4.0, 8.0)
LDDT_THRESHOLDS = (0.5, 1.0, 2.0, 4.0)
LDDT_RADIUS = 15.0
ITERATIONS = 20


@dataclass
class Pairing:
    model: np.ndarray   # (n, 3) Cα of the paired model residues
    native: np.ndarray  # (n, 3) Cα of the paired native residues
    native_index: np.ndarray  # (n,) row of each pair in the native's Cα list
    model_index: np.ndarray   # (n,) row of each pair in the model's Cα list (= its residue-graph node)
    native_all: np.ndarray    # (L, 3) every native Cα
    how: str                  # "number" or "sequence"


def _ca_residues(s: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Residue indices of the amino acids that have a Cα, and their Cα coordinates (float64)."""
    ca = s.atom_index(("CA",))[:, 0]
    keep = np.flatnonzero(s.res_polymer & (ca >= 0))
    return keep, s.coord[ca[keep]].astype(np.float64)


def pair_residues(model: Structure, native: Structure, by: str = "auto") -> Pairing:
    """Pair model and native residues by (chain when both have several, number, insertion code), or by a
    global sequence alignment (``by="sequence"``; ``auto`` uses it when fewer than half of the model's
    residues pair by number)."""
    mres, mxyz = _ca_residues(model)
    nres, nxyz = _ca_residues(native)
    if not len(nres):
        raise InputError(f"{native.source}: no amino-acid residue with a Cα atom")
    if not len(mres):
        raise InputError(f"{model.source}: no amino-acid residue with a Cα atom")
    chained = len(set(model.res_chain[mres])) > 1 and len(set(native.res_chain[nres])) > 1

    def key(s, r):
        return (s.res_chain[r] if chained else "", int(s.res_number[r]), s.res_icode[r])

    if by in ("auto", "number"):
        where = {key(native, r): k for k, r in enumerate(nres)}
        pairs = [(i, where[key(model, r)]) for i, r in enumerate(mres) if key(model, r) in where]
        if by == "number" or 2 * len(pairs) >= len(mres):
            if len(pairs) < 3:
                raise InputError(f"{model.source}: fewer than 3 residues pair with {native.source} by number")
            mi, ni = np.array(pairs).T
            return Pairing(mxyz[mi], nxyz[ni], ni, mi, nxyz, "number")
    if by not in ("auto", "sequence"):
        raise InputError(f"residue pairing must be auto, number or sequence, not {by!r}")
    from .plm.align import align

    rows = align("".join(native.res_letter[nres]), "".join(model.res_letter[mres])).rows
    mi = np.flatnonzero(rows >= 0)
    if len(mi) < 3:
        raise InputError(f"{model.source}: fewer than 3 residues align with {native.source}")
    return Pairing(mxyz[mi], nxyz[rows[mi]], rows[mi], mi, nxyz, "sequence")


def seed_masks(n: int) -> np.ndarray:
    """(S, n) bool windows of consecutive pairs: lengths n, n/2, n/4, … down to 4 (all of them when n < 4);
    stride 1 for windows of at most 8, else length // 8."""
    masks = []
    length = n
    while True:
        stride = 1 if length <= 8 else length // 8
        for start in range(0, n - length + 1, stride):
            m = np.zeros(n, dtype=bool)
            m[start:start + length] = True
            masks.append(m)
        if length // 2 < 4:
            break
        length //= 2
    return np.array(masks)


def superpose(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Distances after the least-squares fit of x onto y on each row's residues.
    x, y: (n, 3); w: (S, n) bool with at least 3 residues per row. Returns (S, n) distances."""
    w = w.astype(np.float64)
    total = w.sum(1, keepdims=True)
    cx, cy = (w @ x) / total, (w @ y) / total                 # (S, 3)
    xc, yc = x[None] - cx[:, None], y[None] - cy[:, None]     # (S, n, 3)
    h = np.swapaxes(w[:, :, None] * xc, 1, 2) @ yc          # (S, 3, 3) weighted covariance
    u, _, vt = np.linalg.svd(h)
    v, ut = np.swapaxes(vt, 1, 2), np.swapaxes(u, 1, 2)
    v[:, :, 2] *= np.where(np.linalg.det(v @ ut) < 0, -1.0, 1.0)[:, None]  # a proper rotation
    r = v @ ut                                                # (S, 3, 3): R x_c ≈ y_c
    moved = xc @ np.swapaxes(r, 1, 2) + cy[:, None]
    return np.sqrt(((moved - y[None]) ** 2).sum(2))


def _at_least_three(d: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows of ``mask`` with fewer than 3 residues take the 3 closest instead (a fit needs 3 points)."""
    few = mask.sum(1) < 3
    if few.any():
        closest = np.argsort(d[few], axis=1)[:, :3]
        fixed = np.zeros((few.sum(), d.shape[1]), dtype=bool)
        np.put_along_axis(fixed, closest, True, axis=1)
        mask = mask.copy()
        mask[few] = fixed
    return mask


def _next(mask: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The fits still to make: each row's new residue set, less the rows that reached a fixed point (refitting
    them gives the same superposition again) and less repeats."""
    moving = (new != mask).any(1)
    return np.unique(new[moving], axis=0)


def gdt_ts(p: Pairing) -> float:
    n_native = len(p.native_all)
    seeds = seed_masks(len(p.native))
    fractions = []
    for cutoff in GDT_CUTOFFS:
        mask, best = seeds, 0
        for _ in range(ITERATIONS):
            d = superpose(p.model, p.native, mask)
            within = d < cutoff
            best = max(best, int(within.sum(1).max()))
            mask = _next(mask, _at_least_three(d, within))
            if not len(mask):
                break
        fractions.append(best / n_native)
    return float(np.mean(fractions))


def tm_d0(length: int) -> float:
    return max(1.24 * np.cbrt(length - 15) - 1.8, 0.5) if length > 15 else 0.5


def tm_score(p: Pairing) -> float:
    n_native = len(p.native_all)
    d0 = tm_d0(n_native)
    search = float(np.clip(d0, 4.5, 8.0))
    mask, best = seed_masks(len(p.native)), 0.0
    for _ in range(ITERATIONS):
        d = superpose(p.model, p.native, mask)
        best = max(best, float((1.0 / (1.0 + (d / d0) ** 2)).sum(1).max() / n_native))
        mask = _next(mask, _at_least_three(d, d < search))
        if not len(mask):
            break
    return best


def lddt(p: Pairing) -> tuple[float, np.ndarray]:
    """Global Cα-lDDT and per native residue (L,), NaN for a residue with no native neighbour within 15 Å."""
    n_native = len(p.native_all)
    native_d = np.linalg.norm(p.native_all[:, None] - p.native_all[None], axis=2)
    pairs = (native_d < LDDT_RADIUS) & ~np.eye(n_native, dtype=bool)
    model_all = np.full((n_native, 3), np.nan)
    model_all[p.native_index] = p.model
    model_d = np.linalg.norm(model_all[:, None] - model_all[None], axis=2)  # NaN where a residue is missing
    diff = np.abs(model_d - native_d)
    kept = np.mean([np.where(np.isnan(diff), False, diff < t) for t in LDDT_THRESHOLDS], axis=0) * pairs
    counts = pairs.sum(1)
    per_residue = np.where(counts > 0, kept.sum(1) / np.maximum(counts, 1), np.nan)
    return float(kept.sum() / max(pairs.sum(), 1)), per_residue


def score_model(model: Structure, native: Structure, by: str = "auto") -> dict:
    """GDT_TS (a fraction), TM-score, global Cα-lDDT, per-residue lDDT and the pairing used."""
    p = pair_residues(model, native, by)
    global_lddt, per_residue = lddt(p)
    return {"gdt_ts": gdt_ts(p), "tm_score": tm_score(p), "lddt": global_lddt, "lddt_per_residue": per_residue,
            "paired": len(p.native), "native_residues": len(p.native_all), "pairing": p.how}


def score_folder(models: Path, native: Path, by: str = "auto", on_item=None) -> tuple[list[dict], list[tuple]]:
    """Scores of every structure file in ``models`` against ``native`` (rows sorted by file name), and the files
    that could not be scored with the reason (the others are still scored)."""
    from .io import is_structure_file, read_structure

    if not models.is_dir():
        raise InputError(f"{models}: not a folder of models")
    ref = read_structure(native)
    rows, skipped = [], []
    for path in sorted(p for p in models.iterdir() if is_structure_file(p)):
        try:
            s = score_model(read_structure(path), ref, by)
            rows.append({"model": path.name, **{k: round(v, 4) if isinstance(v, float) else v
                                                 for k, v in s.items() if k != "lddt_per_residue"}})
        except InputError as e:
            skipped.append((str(path), str(e)))
        if on_item:
            on_item()
    return rows, skipped
