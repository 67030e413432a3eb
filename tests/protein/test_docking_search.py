"""Docking by FFT search: the rotation set covers SO(3), the principal frame is pose-free, the FFT score equals
the direct score on the same poses, rotating either input leaves the docked complex unchanged, clustering and the
pair potential on hand-made cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from intergraph.graph.rigid import principal_frame, random_rotation, rotation_angle, rotation_count, rotation_set
from intergraph.protein.io import read_structure
from intergraph.protein.tasks.docking import potential as pot
from intergraph.protein.tasks.docking.grids import AMINO, Body, GridSpec, potential_channels, receptor_grid
from intergraph.protein.tasks.docking.search import (
    Correlator,
    LocalScorer,
    Poses,
    SearchConfig,
    cluster,
    direct_terms,
    dock_structures,
    weight_matrix,
)


def test_rotation_set_is_proper_and_covers_so3_within_the_step():
    for step in (30.0, 20.0):
        rots = rotation_set(rotation_count(step))
        assert torch.allclose(rots @ rots.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand_as(rots),
                              atol=1e-12)
        assert torch.allclose(torch.det(rots), torch.ones(len(rots), dtype=torch.float64))
        g = torch.Generator().manual_seed(0)
        probes = [random_rotation(g, torch.float64) for _ in range(300)]
        worst = max(float(rotation_angle(rots, p.expand_as(rots)).min()) for p in probes)
        assert worst <= math.radians(step), (step, math.degrees(worst))
    assert rotation_count(15) == 4401


def test_principal_frame_does_not_depend_on_the_pose():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200, 3, generator=g, dtype=torch.float64) * torch.tensor([9.0, 4.0, 2.0], dtype=torch.float64)
    r = random_rotation(g, torch.float64)
    y = x @ r.T + torch.tensor([5.0, -3.0, 11.0], dtype=torch.float64)
    (cx, qx), (cy, qy) = principal_frame(x), principal_frame(y)
    assert torch.allclose((x - cx) @ qx.T, (y - cy) @ qy.T, atol=1e-9)
    assert torch.det(qx) > 0


@pytest.fixture(scope="module")
def pair(db5_root):
    protocol = db5_root / "docking_test"
    rec = read_structure(protocol / "random_transformed" / "1AVX_r_b.pdb.gz")
    lig = read_structure(protocol / "random_transformed" / "1AVX_l_b.pdb.gz")
    return rec, lig


def test_fft_score_equals_the_direct_score_on_the_same_poses(pair):
    rec, lig = pair
    g = torch.Generator().manual_seed(0)
    receptor = Body.from_structure(rec, torch.rand(len(Body.from_structure(rec).types), generator=g).numpy())
    ligand = Body.from_structure(lig, torch.rand(len(Body.from_structure(lig).types), generator=g).numpy())
    channels = potential_channels(pot.read(), 3)
    grid = receptor_grid(receptor, ligand.radius, GridSpec(), channels)
    w = weight_matrix([{"shape": 1.0, "clash": -4.0, "pair": 2.0, "restraint": 3.0, "coupling": 2.0}, {"pair": 1.0}])
    rots = rotation_set(30)[:4]
    for arms in (w[:1], w):       # one arm (summed in Fourier space) and two (one inverse FFT per term)
        s = Correlator(grid, ligand, arms, channels).scores(rots)
        best = s[:, 0].flatten(1).argmax(1)
        shape = torch.tensor(grid.shape)
        vox = torch.stack([best // (shape[1] * shape[2]), (best // shape[2]) % shape[1], best % shape[2]], 1)
        vox = torch.cat([vox, torch.stack([torch.randint(0, int(n), (4,), generator=g) for n in shape], 1)])
        rot = torch.cat([rots, rots])
        fft = s.repeat(2, 1, 1, 1, 1)[torch.arange(8), :, vox[:, 0], vox[:, 1], vox[:, 2]].double()
        poses = Poses(rot, grid.origin.double() + vox.double() * grid.spec.spacing, torch.zeros(8))
        direct = direct_terms(grid, ligand, poses, channels) @ arms.T
        assert direct[:4, 0].abs().min() > 1           # the best poses touch the receptor: a real comparison
        assert torch.allclose(fft, direct, atol=1e-3 * float(direct.abs().max()) + 1e-3)


def test_local_search_scores_equal_the_fft_correlation_within_the_ball(pair):
    """LocalScorer.best_near scores a ball of voxels directly; the whole-grid FFT masked to the same ball gives the
    same best score and voxel for each rotation (a fractional centre, a ball cut by the box edge, chunks of one
    rotation)."""
    rec, lig = pair
    receptor, ligand = Body.from_structure(rec), Body.from_structure(lig)
    channels = potential_channels(pot.read(), 3)
    grid = receptor_grid(receptor, ligand.radius, GridSpec(), channels)
    w = weight_matrix([{"shape": 1.0, "clash": -3.0, "pair": 5.0}])
    rots = rotation_set(30)[:3]
    s = Correlator(grid, ligand, w, channels).scores(rots)[:, 0].double()
    h = grid.spec.spacing
    axes = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in grid.shape), indexing="ij")
    best_voxel = torch.stack([a.flatten() for a in axes], 1)[int(s[0].flatten().argmax())]
    for centre, shift in ((best_voxel + torch.tensor([0.3, -0.4, 0.2], dtype=torch.float64), 3.0),
                          (torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64), 4.0)):
        translation = grid.origin.double() + centre * h
        ball = sum((a - c) ** 2 for a, c in zip(axes, centre)) <= (shift / h) ** 2
        want = s.masked_fill(~ball, -torch.inf).flatten(1).max(1)
        for budget in (2 ** 21, 1):
            got = LocalScorer(grid, ligand, channels, w[0], budget).best_near(rots, translation, shift)
            assert torch.allclose(got.score, want.values, atol=1e-3 * float(want.values.abs().max()) + 1e-3)
            voxel = torch.round((got.translation - grid.origin.double()) / h).long()
            flat = (voxel[:, 0] * grid.shape[1] + voxel[:, 1]) * grid.shape[2] + voxel[:, 2]
            assert torch.allclose(s.flatten(1)[torch.arange(3), flat], want.values, atol=1e-3)
            assert bool(ball.flatten()[flat].all())
    assert float(want.values.abs().max()) > 0         # the box corner: poses that can score (wrap-around)
    far = LocalScorer(grid, ligand, channels, w[0]).best_near(rots, grid.origin.double() - 100.0, 3.0)
    assert torch.isinf(far.score).all()                 # a ball outside the box: no voxel


def test_docked_complex_does_not_depend_on_the_input_poses(pair):
    rec, lig = pair
    cfg = SearchConfig(step=45.0, pool=200, refine_factor=1.5)
    arms = {"shape": {"shape": 1.0, "clash": -10.0}}
    first = dock_structures(Body.from_structure(rec), Body.from_structure(lig), arms, cfg, top=2)["shape"]
    g = torch.Generator().manual_seed(3)
    q, p = random_rotation(g, torch.float64).numpy(), random_rotation(g, torch.float64).numpy()
    moved_lig, moved_rec = lig.moved(q, np.array([20.0, -7.0, 3.0])), rec.moved(p, np.array([-4.0, 9.0, 1.0]))
    second = dock_structures(Body.from_structure(moved_rec), Body.from_structure(moved_lig), arms, cfg, top=2)["shape"]
    x = torch.from_numpy(lig.coord.astype(np.float64))
    for a, b in zip(first, second):
        # the second ligand, docked from its moved input, put back into the first receptor's frame
        placed_a = x @ a.rotation.T + a.translation
        placed_b = ((x @ torch.from_numpy(q).T + torch.tensor([20.0, -7.0, 3.0], dtype=torch.float64))
                    @ b.rotation.T + b.translation - torch.tensor([-4.0, 9.0, 1.0], dtype=torch.float64)
                    ) @ torch.from_numpy(p)
        assert float((placed_a - placed_b).norm(dim=1).max()) < 1e-2
        assert a.score == pytest.approx(b.score, rel=1e-4)


def test_clusters_group_poses_within_the_radius_largest_first():
    ligand_ca = torch.tensor([[0.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64)
    body = Body(None, np.arange(2), ligand_ca, ligand_ca, ligand_ca, torch.zeros(2, dtype=torch.long),
                torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64))
    shifts = torch.tensor([[0.0, 0, 0], [2, 0, 0], [4, 0, 0], [30, 0, 0], [33, 0, 0]], dtype=torch.float64)
    poses = Poses(torch.eye(3, dtype=torch.float64).expand(5, 3, 3), shifts,
                  torch.tensor([1.0, 5.0, 2.0, 9.0, 3.0], dtype=torch.float64))
    clusters = cluster(poses, body, radius=3.0)
    assert [c.members.tolist() for c in clusters] == [[0, 1, 2], [3, 4]]
    assert [c.center for c in clusters] == [1, 3] and [c.best for c in clusters] == [1, 3]


def test_pair_potential_is_the_contact_log_odds_and_round_trips(tmp_path):
    def body(letters, xs):
        c = torch.tensor([[x, 0.0, 0.0] for x in xs], dtype=torch.float64)
        return Body(None, np.arange(len(xs)), c, c, c, torch.tensor([AMINO.index(a) for a in letters]),
                    torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64))

    # receptor D at 0, ligand K at 4 Å (contact) and A at 20 Å (none)
    table = pot.fit([(body("D", [0.0]), body("KA", [4.0, 20.0]))], contact=6.0, pseudocount=1.0)
    d, k, a = AMINO.index("D"), AMINO.index("K"), AMINO.index("A")
    # N_DK = N_KD = 1, N = 2, x_D = x_K = x_A = 1/3: expected 2/9
    assert table[d, k] == pytest.approx(math.log((1 + 1) / (2 / 9 + 1)))
    assert table[d, a] == pytest.approx(math.log(1 / (2 / 9 + 1)))
    assert table[20].tolist() == [0.0] * 21
    path = tmp_path / "p.tsv"
    pot.write(table, path, "test")
    assert np.allclose(pot.read(path), table, atol=1e-4)
    shipped = pot.read()
    assert shipped.shape == (21, 21) and np.allclose(shipped, shipped.T)
    lam, u = potential_channels(shipped, 21)
    assert np.allclose((u.T * lam) @ u, shipped, atol=1e-9)


def test_dock_cli_writes_ranked_complexes_of_a_multichain_receptor(db5_root, tmp_path):
    import csv

    from typer.testing import CliRunner

    from intergraph.cli import app
    from intergraph.protein.docking_metrics import kabsch

    inputs = db5_root / "docking_test" / "random_transformed"
    rec_f, lig_f = inputs / "1HCF_r_b.pdb.gz", inputs / "1HCF_l_b.pdb.gz"
    out = tmp_path / "docked"
    res = CliRunner().invoke(app, ["protein", "dock", "--receptor", str(rec_f), "--ligand", str(lig_f), "--out",
                                   str(out), "--step", "45", "--top", "3"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(out / "poses.csv")))
    assert [int(r["rank"]) for r in rows] == [1, 2, 3]
    assert all(int(r["cluster_size"]) >= 1 for r in rows)
    receptor, ligand = read_structure(rec_f), read_structure(lig_f)
    assert [c.id for c in receptor.chains()] == ["A", "B"]
    for r in rows:
        docked = read_structure(out / r["file"])
        assert [c.id for c in docked.chains()] == ["A", "B", "X"]
        np.testing.assert_allclose(docked.coord[:receptor.n_atoms], receptor.coord, atol=6e-4)
        lig = docked.coord[receptor.n_atoms:].astype(np.float64)
        rot, t = kabsch(ligand.coord.astype(np.float64), lig)     # moved rigidly
        np.testing.assert_allclose(ligand.coord @ rot.T + t, lig, atol=2e-3)
        motion = np.array(r["rotation"].split(), dtype=float).reshape(3, 3)
        np.testing.assert_allclose(motion, rot, atol=1e-3)
    # bad inputs: one clear error each
    res = CliRunner().invoke(app, ["protein", "dock", "--receptor", str(tmp_path / "none.pdb"), "--ligand",
                                   str(lig_f), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "none.pdb" in res.output
    res = CliRunner().invoke(app, ["protein", "dock", "--receptor", str(rec_f), "--ligand", str(lig_f), "--out",
                                   str(tmp_path / "x"), "--arm", "nonsense"])
    assert res.exit_code == 2 and "fitted arms" in res.output
    if not torch.cuda.is_available():
        res = CliRunner().invoke(app, ["protein", "dock", "--receptor", str(rec_f), "--ligand", str(lig_f), "--out",
                                       str(tmp_path / "x"), "--device", "cuda"])
        assert res.exit_code == 2 and "no CUDA device" in res.output


def test_funnel_rank_counts_the_decoys_that_outscore_the_reachable_native_funnel():
    from intergraph.protein.tasks.docking.grids import TERMS
    from intergraph.protein.tasks.docking.weights import Pool, funnel_rank

    t = lambda rows: torch.tensor([r + [0.0] * (len(TERMS) - 2) for r in rows], dtype=torch.float64)  # noqa: E731
    search = Pool(t([[90, 0], [80, 5], [70, 0], [60, 0], [75, 0]]), torch.tensor([False, False, False, False, True]))
    # the exact native (first) outscores everything but is not reachable; the best other funnel pose scores 72
    funnel = Pool(t([[200, 0], [72, 0], [50, 0]]), torch.tensor([True, True, True]))
    assert funnel_rank(search, funnel, {"shape": 1.0}) == 3                   # 90 and 80 beat 72; 75 is near-native
    assert funnel_rank(search, funnel, {"shape": 1.0, "clash": -3.0}) == 2    # 80 − 15 = 65 no longer does


def test_success_rates_and_paired_differences_on_hand_made_rows():
    from intergraph.protein.tasks.docking.benchmark import paired_success, success_table

    def rows(arm, dockqs):
        return [{"complex": c, "arm": arm, "rank": k + 1, "dockq": q, "irmsd": 1.0, "lrmsd": 2.0, "crmsd": 3.0,
                 "seconds": 10.0} for c, qs in dockqs.items() for k, q in enumerate(qs)]

    a = rows("a", {"X": [0.1, 0.5], "Y": [0.3, 0.0], "Z": [0.0, 0.0], "W": [0.6, 0.1]})
    b = rows("b", {"X": [0.5, 0.1], "Y": [0.0, 0.0], "Z": [0.0, 0.24], "W": [0.1, 0.1]})
    t = success_table(a + b, ns=(1, 2))
    assert t["a"]["success@1_0.23"]["rate"] == 0.5 and t["a"]["success@2_0.23"]["rate"] == 0.75
    assert t["a"]["success@1_0.49"]["rate"] == 0.25 and t["a"]["success@2_0.49"]["rate"] == 0.5
    assert t["b"]["success@1_0.23"]["rate"] == 0.25 and t["b"]["success@2_0.23"]["rate"] == 0.5
    assert t["a"]["top1_dockq_median"] == pytest.approx(0.2)
    lo, hi = t["a"]["success@1_0.23"]["ci"]
    assert 0 <= lo <= 0.5 <= hi <= 1
    d = paired_success(a + b, "a", "b", n=1)
    assert d["complexes"] == 4 and d["difference"] == pytest.approx(0.25)
    assert d["ci"][0] <= 0.25 <= d["ci"][1]


def test_weights_factor_over_their_independent_rows():
    from intergraph.protein.tasks.docking.search import weight_basis

    w = weight_matrix([{"shape": 1.0, "clash": -3.0, "pair": 5.0, "restraint": r} for r in (0.0, 2.0, 10.0)] +
                      [{"shape": 2.0, "clash": -6.0, "pair": 10.0}])
    c, b = weight_basis(w)
    assert b.shape == (2, 5) and torch.equal(b, w[:2])      # arms differing in one weight: two inverse FFTs
    torch.testing.assert_close(c @ b, w)
    assert c[:2].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    c, b = weight_basis(w[:1])
    assert c.tolist() == [[1.0]] and torch.equal(b, w[:1])
    with pytest.raises(ValueError, match="zero"):
        weight_basis(torch.zeros(1, 5, dtype=torch.float64))
