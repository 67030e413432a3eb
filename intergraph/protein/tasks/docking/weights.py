"""Choosing the term weights of the docking score on training complexes only.

A candidate weight vector is judged by where the native funnel lands among the search's own best poses under it:
for each training complex, the search's best ``pool`` poses (the decoys the search would rank) and the native
funnel (the native pose, and the best translation within 4 Å of the native one for every rotation within a step
of the native rotation: what a search near the native reaches); the funnel's rank is 1 + the number of decoys
(ligand Cα RMSD > ``near`` Å from the native, receptor fixed) that outscore its best pose. Candidates are compared
by the median rank over complexes. (A listwise likelihood fitted on such pools is biased by their selection: the
pools hold only poses the starting weights rank high, and the fit turned the shape weight negative.)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ....graph.rigid import rotation_count, rotation_set
from .grids import TERMS, Body, ReceptorGrid, potential_channels, receptor_grid
from .search import Correlator, LocalScorer, Poses, SearchConfig, direct_terms, local_rotations, weight_matrix


@dataclass
class Pool:
    """Term values (P, T) of one complex's poses and whether each is near-native."""

    terms: torch.Tensor
    near: torch.Tensor


def native_pose(receptor: Body, ligand: Body) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, t) of the ligand body where its file puts it against the receptor's file, in the receptor body's frame:
    the native pose when the two files are the bound complex (:meth:`Body.from_original` of the identity)."""
    return ligand.from_original(torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), receptor)


def complex_pools(receptor: Body, ligand: Body, native: tuple[torch.Tensor, torch.Tensor], cfg: SearchConfig,
                  candidates: list[dict[str, float]], potential, pair_channels: int = 3, pool: int = 300,
                  near: float = 8.0, searched: list[Pool] | None = None) -> list[tuple[Pool, Pool]]:
    """Per candidate weight vector, the two pools of one training complex with their term values and near-native
    labels: the search's best ``pool`` poses under those weights (one search pass scores every candidate; or
    ``searched``, computed before), and the native funnel as that search would see it: the native pose, and for
    every rotation within a step of the native one, its best translation within 4 Å of the native translation."""
    pair = potential_channels(potential, pair_channels if potential is not None else 0)
    grid = receptor_grid(receptor, ligand.radius, cfg.grid, pair)
    r0, t0 = native
    truth = ligand.ca @ r0.T + t0

    def labelled(poses: Poses) -> Pool:
        rmsd = ((poses.ca(ligand) - truth) ** 2).sum(-1).mean(-1).sqrt()
        return Pool(direct_terms(grid, ligand, poses, pair), rmsd <= near)

    if searched is None:
        corr = Correlator(grid, ligand, weight_matrix(candidates), pair, cfg.memory_mb)
        found = corr.search(rotation_set(rotation_count(cfg.step)), cfg.per_rotation)
        searched = [labelled(f.take(f.score.argsort(descending=True)[:pool])) for f in found]
    return [(search, labelled(native_funnel(grid, ligand, w, pair, cfg, native, exact=True)))
            for w, search in zip(candidates, searched)]


def native_funnel(grid: ReceptorGrid, ligand: Body, weights: dict[str, float], pair, cfg: SearchConfig,
                  native: tuple[torch.Tensor, torch.Tensor], shift: float = 4.0, exact: bool = False) -> Poses:
    """The native funnel as a search with ``cfg`` sees it under ``weights``: for every rotation within a step of
    the native one R0 (at step / refine factor), its best translation within ``shift`` Å of the native t0;
    with ``exact``, the native pose itself (t0 put on the grid) first."""
    r0, t0 = native
    funnel = LocalScorer(grid, ligand, pair, weight_matrix([weights])[0]).best_near(
        local_rotations(2 * cfg.step, cfg.refine_factor) @ r0, t0, shift)
    if not exact:
        return funnel
    h = cfg.grid.spacing
    on_grid = grid.origin.double().cpu() + torch.round((t0 - grid.origin.double().cpu()) / h) * h
    pose = Poses(r0[None], on_grid[None], torch.zeros(1, dtype=torch.float64))
    return Poses(*(torch.cat([getattr(pose, f), getattr(funnel, f)]) for f in ("rotation", "translation", "score")))


def funnel_rank(search: Pool, funnel: Pool, weights: dict[str, float]) -> int:
    """Rank of the native funnel among the search's poses under ``weights``: 1 + the number of search poses that
    are not near-native and score above the best funnel pose other than the exact native (which the search cannot
    reach). ``search`` must be the search's own best poses under the same weights (other pools are biased)."""
    w = torch.tensor([float(weights.get(t, 0.0)) for t in TERMS], dtype=torch.float64)
    best = (funnel.terms[1:] @ w).max()
    return int(((search.terms @ w)[~search.near] > best).sum()) + 1
