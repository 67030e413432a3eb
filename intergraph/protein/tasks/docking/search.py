"""Global rigid docking by FFT correlation (Katchalski-Katzir; ZDOCK, PIPER/ClusPro), then clustering and local
refinement.

For every ligand rotation R of a near-uniform set, the score of all translations at once is

    S_a[k] = IFFT( Σ_j G_a[j] · conj(FFT(L_R[j])) )[k],    G_a[j] = Σ_{(i, j, term)} w_a[term] · FFT(R[i])

for each weight vector (arm) a over the terms of :mod:`grids` (shapes: receptor channels R (C_r, X, Y, Z), ligand
channels L_R (C_l, X, Y, Z), S_a (X, Y, Z)). Rotations go in batches sized to a memory budget; the best
``per_rotation`` translations of each rotation are kept. Poses are then clustered by ligand Cα RMSD (greedy, the
pose with most neighbours first, as ClusPro), ranked by cluster size or by best score, and each head is refined by
the same score over the rotations within half a step of it and translations within ``refine_shift`` Å, evaluated
directly at those few voxels (:class:`LocalScorer`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ....graph.rigid import rotation_angle, rotation_count, rotation_set
from ....terminal import progress_bar
from .grids import (
    TERMS,
    Body,
    GridSpec,
    ReceptorGrid,
    ligand_channels,
    ligand_points,
    potential_channels,
    products,
    receptor_grid,
)

DEFAULT_ARM = "shape+pair"
INTERFACE_ARM = "shape+pair+interface"   # the default with an interface run: restraint and coupling weights chosen
                                         # on DB5.5 validation complexes with a no-PLM interface run
PLM_ARM_NAMES = {"default": "ownplm", "esm2_650m": "esm2_650m"}   # suffix of the arm chosen with that PLM's run


def interface_arm(plm: str = "none") -> str:
    """The default arm with an interface run of PLM arm ``plm``: the interface weights chosen on validation with
    a run of the same PLM arm (``shape+pair+interface-SUFFIX``) where that choice was made, else
    :data:`INTERFACE_ARM`."""
    name = f"{INTERFACE_ARM}-{PLM_ARM_NAMES[plm]}" if plm in PLM_ARM_NAMES else INTERFACE_ARM
    try:
        fitted_weights(name)
    except ValueError:
        return INTERFACE_ARM
    return name


def fitted_weights(arm: str = DEFAULT_ARM) -> dict[str, float]:
    """The term weights of ``arm`` chosen on DB5.5 training / validation complexes (``resources/WEIGHTS``, written
    by ``scripts/choose_docking_weights.py``; its ``choices`` say on which complexes and how), or of one of the
    candidates they were chosen from."""
    import json
    from importlib import resources

    table = json.loads(resources.files("intergraph.protein.resources").joinpath(WEIGHTS).read_text())
    if arm in table["arms"]:
        return table["arms"][arm]
    for choice in table["choices"].values():        # a candidate the shipped arms were chosen from
        if arm in choice["candidates"]:
            return choice["candidates"][arm]
    raise ValueError(f"no fitted weights for arm {arm!r}; fitted arms: {', '.join(table['arms'])}")


WEIGHTS = "docking_weights_db5.json"


@dataclass
class SearchConfig:
    step: float = 15.0           # angular step (degrees): ⌈8π²/θ³⌉ rotations
    grid: GridSpec = field(default_factory=GridSpec)
    per_rotation: int = 1        # translations kept per rotation
    pool: int = 1000             # best poses clustered (at most a quarter of all poses)
    cluster_radius: float = 9.0  # Å, ligand Cα RMSD between poses of one cluster
    rank_by: str = "score"       # clusters ranked by best "score" or by "size" (ClusPro); score chosen on 12
                                 # DB5.5 validation complexes (top-1 success higher in both arms; not significant)
    refine_factor: float = 3.0   # local rotations at step / factor, within step / 2 of the head (~15)
    refine_shift: float = 3.0    # Å, translations searched around the head
    memory_mb: int = 768         # bound on the grids of one rotation batch


@dataclass
class Poses:
    """Poses of the ligand body in the receptor's frame: y ↦ R y + t. rotation (P, 3, 3), translation (P, 3) Å,
    score (P,)."""

    rotation: torch.Tensor
    translation: torch.Tensor
    score: torch.Tensor

    def __len__(self) -> int:
        return len(self.score)

    def take(self, index) -> "Poses":
        return Poses(self.rotation[index], self.translation[index], self.score[index])

    def ca(self, body: Body) -> torch.Tensor:
        """Ligand Cα coordinates (P, n, 3) in the receptor's frame."""
        return body.ca.to(self.rotation) @ self.rotation.transpose(-1, -2) + self.translation[:, None, :]


def weight_matrix(weights: list[dict[str, float]]) -> torch.Tensor:
    """(A, T) weights over ``TERMS`` from one dict per arm; an unknown term is refused."""
    for w in weights:
        unknown = set(w) - set(TERMS)
        if unknown:
            raise ValueError(f"unknown score terms {sorted(unknown)}; terms: {', '.join(TERMS)}")
    return torch.tensor([[float(w.get(t, 0.0)) for t in TERMS] for w in weights], dtype=torch.float64)


def weight_basis(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """W (A, T) = C (A, M) · B (M, T), B the first linearly independent rows of W (M = rank W); a row of W that
    is in B gets a unit row of C."""
    chosen: list[int] = []
    for a in range(len(weights)):
        if int(torch.linalg.matrix_rank(weights[chosen + [a]])) > len(chosen):
            chosen.append(a)
    if not chosen:
        raise ValueError("every score weight is zero")
    b = weights[chosen]
    c = torch.linalg.lstsq(b.T, weights.T).solution.T
    c[chosen] = torch.eye(len(chosen), dtype=c.dtype)
    return c, b


class Correlator:
    """FFT correlation of one receptor grid with rotated ligands, for A weight vectors at once.

    The weights are factored W = C B over M = rank W independent rows (:func:`weight_basis`); each basis row's
    products are summed in Fourier space (one inverse FFT per basis row and rotation), and the arms are the
    combinations C of the basis scores: one arm costs one inverse FFT, and arms that differ in one term's weight
    cost two."""

    def __init__(self, grid: ReceptorGrid, ligand: Body, weights: torch.Tensor, pair, memory_mb: int = 768):
        self.grid, self.ligand, self.pair = grid, ligand, pair
        fr = torch.fft.rfftn(grid.grids, dim=(-3, -2, -1))
        combine, basis = weight_basis(weights.to(torch.float64))
        self.combine = combine.float().to(fr.device)
        factors: dict[tuple[int, int], torch.Tensor] = {}
        for m, row in enumerate(basis):
            for i, j, term in products(len(pair[0])):
                scale = float(row[TERMS.index(term)])
                if scale != 0:
                    factors[(m, j)] = factors.get((m, j), 0) + scale * fr[i].conj()
        self.used = sorted({j for _, j in factors})
        self.factors = [(m, self.used.index(j), f) for (m, j), f in factors.items()]
        self.outputs = len(basis)
        voxels = math.prod(grid.shape)
        per_rotation = voxels * 4 * (len(self.used) * 3 + 3 * self.outputs + weights.shape[0])
        self.batch = max(1, int(memory_mb * 2 ** 20 // per_rotation))

    def scores(self, rotations: torch.Tensor) -> torch.Tensor:
        """(B, A, X, Y, Z) scores of every translation voxel for rotations (B, 3, 3)."""
        shift = torch.zeros(rotations.shape[0], 3, dtype=torch.long)
        lig = ligand_channels(self.ligand, rotations, shift, self.grid, self.pair, self.used)
        fl = torch.fft.rfftn(lig, dim=(-3, -2, -1))
        y = torch.zeros((fl.shape[0], self.outputs) + fl.shape[2:], dtype=fl.dtype, device=fl.device)
        for m, j, factor in self.factors:     # y = conj(Σ FFT(R_i) conj(FFT(L_j)))
            y[:, m].addcmul_(factor, fl[:, j])
        s = torch.fft.irfftn(y.conj(), s=self.grid.shape, dim=(-3, -2, -1))
        if self.combine.shape == (1, 1):     # one arm: C = [[1]] exactly (weight_basis)
            return s
        return torch.einsum("am,bmxyz->baxyz", self.combine, s)

    def translation(self, voxels: torch.Tensor) -> torch.Tensor:
        """Å translation of the ligand body for translation voxels (..., 3)."""
        return self.grid.origin.to("cpu", torch.float64) + voxels.cpu().to(torch.float64) * self.grid.spec.spacing

    def search(self, rotations: torch.Tensor, per_rotation: int = 1, label: str | None = None) -> list[Poses]:
        """The best ``per_rotation`` translations of every rotation, for each arm (a progress bar when
        ``label``). The results go into tensors allocated once: small tensors kept between the large per-batch
        grids would fragment the heap (glibc keeps grids under 32 MB there), and memory would grow by a grid per
        rotation."""
        n, arms = len(rotations), self.combine.shape[0]
        val = torch.empty(n, arms, per_rotation, dtype=torch.float64)
        flat = torch.empty(n, arms, per_rotation, dtype=torch.long)
        with progress_bar(disable=label is None) as bar:
            task = bar.add_task(label or "", total=n)
            for start in range(0, n, self.batch):
                rot = rotations[start:start + self.batch]
                v, i = self.scores(rot).flatten(2).topk(per_rotation, dim=-1)
                val[start:start + len(rot)] = v.cpu()
                flat[start:start + len(rot)] = i.cpu()
                bar.advance(task, len(rot))
        _, ny, nz = self.grid.shape
        vox = torch.stack([flat // (ny * nz), (flat // nz) % ny, flat % nz], -1)     # (n, A, k, 3)
        r = rotations.to(torch.float64)[:, None].expand(-1, per_rotation, 3, 3).reshape(-1, 3, 3)
        return [Poses(r, self.translation(vox[:, a].reshape(-1, 3)), val[:, a].reshape(-1)) for a in range(arms)]


def direct_terms(grid: ReceptorGrid, ligand: Body, poses: Poses, pair, batch: int = 256) -> torch.Tensor:
    """(P, T) term values of poses computed directly: Σ over the ligand's points of value × the receptor channel
    at the point's voxel, for every (receptor channel, ligand channel) product. Poses must lie on the grid
    (translations = origin + voxel · spacing)."""
    h = grid.spec.spacing
    vox = torch.round((poses.translation - grid.origin.double().cpu()) / h).long()
    dims = torch.tensor(grid.shape, device=grid.grids.device)
    out = torch.zeros(len(poses), len(TERMS), dtype=torch.float64)
    for start in range(0, len(poses), batch):
        sl = slice(start, start + batch)
        points = ligand_points(ligand, poses.rotation[sl], vox[sl], grid, pair)
        for i, j, term in products(len(pair[0])):
            v, values = points[j]
            v = v % dims
            at = grid.grids[i][v[..., 0], v[..., 1], v[..., 2]].double()
            out[sl, TERMS.index(term)] += (at * values.double()).sum(1).cpu()
    return out


@dataclass
class Cluster:
    center: int          # pose index with most neighbours
    best: int            # pose index with the best score
    members: torch.Tensor


def cluster(poses: Poses, ligand: Body, radius: float) -> list[Cluster]:
    """Greedy clustering by ligand Cα RMSD (no superposition): the pose with the most unclustered neighbours
    within ``radius`` and those neighbours form a cluster; repeat. Clusters in order of formation (largest first)."""
    ca = poses.ca(ligand).flatten(1)
    d = torch.cdist(ca, ca) / math.sqrt(ligand.ca.shape[0])
    near = d <= radius
    free = torch.ones(len(poses), dtype=torch.bool)
    out = []
    while free.any():
        counts = (near & free[None, :] & free[:, None]).sum(1)
        counts[~free] = -1
        c = int(counts.argmax())
        members = torch.nonzero(near[c] & free).flatten()
        best = int(members[poses.score[members].argmax()])
        out.append(Cluster(c, best, members))
        free[members] = False
    return out


def local_rotations(step: float, factor: float) -> torch.Tensor:
    """Rotations within step / 2 of the identity from the set at step / factor, identity first."""
    fine = rotation_set(rotation_count(step / factor))
    near = fine[rotation_angle(torch.eye(3, dtype=torch.float64).expand_as(fine), fine) <= math.radians(step / 2)]
    return torch.cat([torch.eye(3, dtype=torch.float64)[None], near])


class LocalScorer:
    """The score of ligand poses near a given one, looked up directly at the few grid voxels that matter instead
    of by a whole-grid FFT per rotation. Under term ``weights`` (T,) over ``TERMS``, for rotation R and translation
    voxel c + o:

        S = Σ_j Σ_p v_j[p] · G_j[(round(R y_p / h) + c + o) mod dims],   G_j = Σ_(i, j, term) w[term] R_i

    — the correlation's own value there (wrapping as it does; points y_p and values v_j of
    :func:`grids.ligand_points`; receptor channels R_i (C_r, X, Y, Z), combined once into G_j)."""

    def __init__(self, grid: ReceptorGrid, ligand: Body, pair, weights: torch.Tensor, budget: int = 2 ** 21):
        self.grid, self.ligand, self.pair, self.budget = grid, ligand, pair, budget
        combined: dict[int, torch.Tensor] = {}
        for i, j, term in products(len(pair[0])):
            scale = float(weights[TERMS.index(term)])
            if scale != 0:
                combined[j] = combined.get(j, 0) + scale * grid.grids[i].double()
        self.combined = {j: g.flatten() for j, g in combined.items()}

    def best_near(self, rotations: torch.Tensor, translation: torch.Tensor, shift: float) -> Poses:
        """For each rotation (R, 3, 3), the best translation among the grid voxels (inside the box) within
        ``shift`` Å of ``translation`` (3,); score −inf where there is none. Rotations go in chunks of at most
        ``budget`` (rotation, voxel, point) lookups."""
        grid, device = self.grid, self.grid.grids.device
        h, dims = grid.spec.spacing, torch.tensor(grid.shape)
        origin = grid.origin.cpu().to(torch.float64)
        centre, radius = (translation.cpu().to(torch.float64) - origin) / h, shift / h
        bounds = [(max(0, math.floor(c - radius)), min(int(n), math.ceil(c + radius) + 1))
                  for c, n in zip(centre.tolist(), dims.tolist())]
        cand = torch.cartesian_prod(*(torch.arange(lo, max(lo, hi)) for lo, hi in bounds)).reshape(-1, 3)
        cand = cand[((cand.double() - centre) ** 2).sum(1) <= radius ** 2]
        if not len(cand):
            return Poses(rotations.to(torch.float64), translation.to(torch.float64).expand(len(rotations), 3).clone(),
                         torch.full((len(rotations),), -torch.inf, dtype=torch.float64))
        ny, nz = grid.shape[1], grid.shape[2]
        dev_dims, dev_cand = dims.to(device), cand.to(device)
        val = torch.empty(len(rotations), dtype=torch.float64)    # allocated once (see Correlator.search)
        idx = torch.empty(len(rotations), dtype=torch.long)
        chunk = max(1, self.budget // (len(cand) * (len(self.ligand.atoms) + len(self.ligand.types))))
        for start in range(0, len(rotations), chunk):
            rot = rotations[start:start + chunk]
            points = ligand_points(self.ligand, rot, torch.zeros(len(rot), 3, dtype=torch.long), grid, self.pair)
            s = torch.zeros(len(rot), len(cand), dtype=torch.float64, device=device)
            for j, g in self.combined.items():
                v, values = points[j]                                       # (B, n, 3), (n,)
                at = (v[:, None] + dev_cand[None, :, None]) % dev_dims      # (B, K, n, 3)
                s += (g[(at[..., 0] * ny + at[..., 1]) * nz + at[..., 2]] * values.double()).sum(-1)
            v, i = s.max(1)
            val[start:start + len(rot)], idx[start:start + len(rot)] = v.cpu(), i.cpu()
        return Poses(rotations.to(torch.float64), origin + cand[idx].double() * h, val)

    def refine(self, head: Poses, local: torch.Tensor, shift: float) -> Poses:
        """Each head pose moved to the best pose among rotations R_local · R_head and translations within
        ``shift`` Å of its own."""
        out = []
        for p in range(len(head)):
            near = self.best_near(local.to(torch.float64) @ head.rotation[p], head.translation[p], shift)
            out.append(near.take(int(near.score.argmax())))
        return Poses(*(torch.stack([getattr(o, f) for o in out]) for f in ("rotation", "translation", "score")))


@dataclass
class Docked:
    """Ranked poses of one arm: ``poses`` (refined heads, best first), cluster sizes, and every pose the search
    kept (``per_rotation`` per rotation; for decoys)."""

    poses: Poses
    sizes: list[int]
    raw: Poses


def dock_bodies(receptor: Body, ligand: Body, weights: list[dict[str, float]], cfg: SearchConfig,
                potential=None, pair_channels: int = 3, top: int = 10, device=None,
                label: str | None = None, rankings: tuple[str, ...] | None = None) -> list[dict[str, Docked]]:
    """Global search, clustering, refinement and ranking of the ligand body against the receptor body, for each
    weight vector in ``weights``; per arm, one :class:`Docked` per cluster ranking ("size", "score"; default
    ``cfg.rank_by``)."""
    pair = potential_channels(potential, pair_channels if potential is not None else 0)
    grid = receptor_grid(receptor, ligand.radius, cfg.grid, pair, device)
    w = weight_matrix(weights)
    corr = Correlator(grid, ligand, w, pair, cfg.memory_mb)
    found = corr.search(rotation_set(rotation_count(cfg.step)), cfg.per_rotation, label)
    local = local_rotations(cfg.step, cfg.refine_factor)
    out = []
    for a, arm in enumerate(found):
        pool = arm.take(arm.score.argsort(descending=True)[:min(cfg.pool, max(1, len(arm) // 4))])
        clusters = cluster(pool, ligand, cfg.cluster_radius)
        local_scorer = LocalScorer(grid, ligand, pair, w[a])
        ranked, done = {}, {}     # a head ranked both ways is refined once
        for rank_by in rankings or (cfg.rank_by,):
            if rank_by not in ("size", "score"):
                raise ValueError(f"clusters are ranked by size or score, not {rank_by!r}")
            order = sorted(clusters, key=lambda c: -float(pool.score[c.best])) if rank_by == "score" else clusters
            heads = [c.center if rank_by == "size" else c.best for c in order[:top]]
            todo = [h for h in heads if h not in done]
            if todo:
                refined = local_scorer.refine(pool.take(torch.tensor(todo)), local, cfg.refine_shift)
                done.update({h: refined.take(k) for k, h in enumerate(todo)})
            poses = Poses(*(torch.stack([getattr(done[h], f) for h in heads])
                            for f in ("rotation", "translation", "score")))
            sizes = [len(c.members) for c in order[:top]]
            if rank_by == "score":      # refined scores decide the final order
                keep = poses.score.argsort(descending=True)
                poses, sizes = poses.take(keep), [sizes[int(k)] for k in keep]
            ranked[rank_by] = Docked(poses, sizes, arm)
        out.append(ranked)
    return out


@dataclass
class Placement:
    """One ranked pose as the rigid motion x ↦ R x + t of the input ligand file into the input receptor's frame."""

    rank: int
    score: float
    cluster_size: int
    rotation: torch.Tensor
    translation: torch.Tensor


def dock_structures(receptor: Body, ligand: Body, arms: dict[str, dict[str, float]], cfg: SearchConfig,
                    potential=None, top: int = 10, device=None, label: str | None = None,
                    rankings: tuple[str, ...] | None = None) -> dict[str, list[Placement]]:
    """:func:`dock_bodies` for named arms; poses returned as motions of the input ligand (receptor unchanged).
    With several ``rankings``, results other than ``cfg.rank_by`` are named "ARM, by RANKING"."""
    docked = dock_bodies(receptor, ligand, list(arms.values()), cfg, potential, top=top, device=device, label=label,
                         rankings=rankings)
    out = {}
    for arm, by in zip(arms, docked):
        for rank_by, d in by.items():
            rows = []
            for k in range(len(d.poses)):
                r, t = ligand.to_original(d.poses.rotation[k], d.poses.translation[k], receptor)
                rows.append(Placement(k + 1, float(d.poses.score[k]), d.sizes[k], r, t))
            out[arm if rank_by == cfg.rank_by else f"{arm}, by {rank_by}"] = rows
    return out
