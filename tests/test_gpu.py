"""The same code on a GPU: results must match the CPU's (skipped where no GPU exists)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_neighbour_search_on_gpu_matches_cpu():
    from intergraph.graph.neighbors import knn_graph, radius_graph

    pos = torch.randn(3000, 3, generator=torch.Generator().manual_seed(0)) * 20
    for fn in (lambda p: radius_graph(p, 8.0, 32), lambda p: knn_graph(p, 16)):
        cpu, gpu = fn(pos), fn(pos.cuda())
        assert gpu.is_cuda and torch.equal(cpu, gpu.cpu())


def test_plm_extraction_on_gpu_half_matches_cpu(tmp_path):
    from intergraph.protein.plm.backends import load_plm
    from intergraph.protein.plm.convert import save_fair_esm
    from intergraph.protein.plm.extract import embed
    from intergraph.protein.plm.pretrain import PretrainConfig, build_model

    torch.manual_seed(0)
    model, _ = build_model(PretrainConfig(fasta="", out="", layers=3, dim=64, heads=4))
    path = save_fair_esm(model, tmp_path / "esm2_t3_64D_gpu.pt", layers=3, dim=64, heads=4)
    seqs = ["MKTAYIAKQRQISFVKSHFSRQ" * 7, "GSHMLEDPVDAFQ"]
    plm = load_plm(path)
    cpu = {i: e for b in embed(plm, seqs, window=64, overlap=16) for i, e in b}
    plm.module.cuda()
    gpu = {i: e for b in embed(plm, seqs, window=64, overlap=16) for i, e in b}  # fp16 on the GPU
    for i in cpu:
        scale = np.abs(cpu[i]).max()
        np.testing.assert_allclose(gpu[i], cpu[i], atol=2e-2 * scale)
    assert next(plm.module.parameters()).dtype == torch.float32  # restored after half-precision extraction


def test_pretraining_step_on_gpu(tmp_path):
    from intergraph.protein.plm.pretrain import PretrainConfig, pretrain

    fasta = tmp_path / "s.fasta"
    rng = np.random.default_rng(0)
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACDEFGHIKLMNPQRSTVWY'), 60))}\n" for i in range(200)))
    final = pretrain(PretrainConfig(fasta=str(fasta), out=str(tmp_path / "run"), layers=1, dim=16, heads=2, crop=48,
                                    tokens_per_batch=512, steps=4, eval_every=2, warmup=1, val_fraction=0.2,
                                    device="cuda"), log=lambda m: None)
    assert final["steps"] == 4 and np.isfinite(final["val_perplexity"])


def test_video_search_model_and_nodes_on_gpu_match_cpu():
    from intergraph.video.model import InteractionModel, VideoModelConfig
    from intergraph.video.nodes import NodeConfig, NodeExtractor

    torch.manual_seed(0)
    ex = NodeExtractor(NodeConfig(nodes_per_frame=3, grid=4)).eval()
    video = torch.rand(2, 3, 8, 64, 64)
    boxes = torch.tensor([4.0, 4.0, 30.0, 40.0]).expand(2, 8, 2, 4).clone()
    mask = torch.ones(2, 8, 2, dtype=torch.bool)
    with torch.no_grad():
        g_cpu = ex(video, boxes, mask)
        g_gpu = ex.cuda()(video.cuda(), boxes.cuda(), mask.cuda())
    torch.testing.assert_close(g_gpu.objects.cpu(), g_cpu.objects, atol=1e-4, rtol=1e-3)
    model = InteractionModel(VideoModelConfig(in_channels=128, width=32, frames=g_cpu.objects.shape[1],
                                              nodes_per_frame=3, background_per_frame=16, classes=5)).eval()
    with torch.no_grad():
        model.predictor.linear.bias.normal_()
        cpu = model(g_cpu, derive_structure=True).logits
        gpu = model.cuda()(g_gpu, derive_structure=True).logits.cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-3, rtol=1e-3)
    on_gpu = [s.cells for s in model.derived_structures(g_gpu)]
    assert on_gpu == [s.cells for s in model.cpu().derived_structures(g_cpu)]


def test_docking_quality_and_affinity_models_on_gpu_match_cpu(data_root):
    """The three protein tasks' models give the CPU's outputs on a GPU (float64 docking: exact superposition)."""
    from torch_geometric.data import Batch

    from intergraph.protein.complexes import ComplexGraphs
    from intergraph.protein.complexes import collate_pairs as collate
    from intergraph.protein.encoders import ResidueEncoder
    from intergraph.protein.featurize import featurize, join_partners
    from intergraph.protein.io import read_structure
    from intergraph.protein.tasks.affinity.ligand import read_ligand
    from intergraph.protein.tasks.affinity.model import AffinityModel, affinity_encoder, complex_graph
    from intergraph.protein.tasks.docking.model import DockingModel
    from intergraph.protein.tasks.quality.model import QualityModel

    g = {r: featurize(read_structure(data_root / "db5" / "structures" / f"7CEI_{r}_b.pdb.gz")) for r in "rl"}
    torch.manual_seed(0)
    dock = DockingModel(ResidueEncoder("gvp", out_dim=32, layers=2), keypoints=6).eval()
    batch = collate([ComplexGraphs("7CEI", g["r"], g["l"])])
    with torch.no_grad():
        cpu = dock(batch).ligand_pos
        gpu = dock.cuda()(batch.to("cuda")).ligand_pos.cpu()
    torch.testing.assert_close(gpu, cpu, atol=5e-2, rtol=0)  # float32 keypoints of an untrained model
    qa = QualityModel(ResidueEncoder("egnn", out_dim=16, layers=2)).eval()
    joined = Batch.from_data_list([join_partners(g["r"], g["l"])])
    with torch.no_grad():
        torch.testing.assert_close(qa.cuda()(joined.to("cuda")).cpu(), qa.cpu()(joined.cpu()), atol=1e-4, rtol=1e-4)
    lba = data_root / "lba_toy" / "complexes" / "1a61"
    graph = complex_graph(read_structure(lba / "1a61_pocket.pdb.gz"), read_ligand(lba / "1a61_ligand.sdf"))
    aff = AffinityModel(affinity_encoder("molformer", "none", None, out_dim=16, layers=2)).eval()
    b = Batch.from_data_list([graph])
    with torch.no_grad():
        torch.testing.assert_close(aff.cuda()(b.to("cuda")).cpu(), aff.cpu()(b.cpu()), atol=1e-4, rtol=1e-4)


def test_docking_search_on_gpu_matches_cpu(db5_root):
    from intergraph.graph.rigid import rotation_set
    from intergraph.protein.io import read_structure
    from intergraph.protein.tasks.docking import potential
    from intergraph.protein.tasks.docking.grids import Body, GridSpec, potential_channels, receptor_grid
    from intergraph.protein.tasks.docking.search import Correlator, SearchConfig, dock_structures, weight_matrix

    inputs = db5_root / "docking_test" / "random_transformed"
    rec, lig = (Body.from_structure(read_structure(inputs / f"1AVX_{r}_b.pdb.gz")) for r in "rl")
    pair = potential_channels(potential.read(), 3)
    w = weight_matrix([{"shape": 1.0, "clash": -3.0, "pair": 5.0}, {"shape": 1.0}])
    rots = rotation_set(100)[:8]
    scores = {}
    for dev in ("cpu", "cuda"):
        grid = receptor_grid(rec, lig.radius, GridSpec(), pair, torch.device(dev))
        scores[dev] = Correlator(grid, lig, w, pair).scores(rots).cpu()
    assert torch.allclose(scores["cpu"], scores["cuda"], atol=1e-2)
    arms = {"shape+pair": {"shape": 1.0, "clash": -3.0, "pair": 5.0}}
    cpu = dock_structures(rec, lig, arms, SearchConfig(step=30.0), potential.read(), top=3)["shape+pair"]
    gpu = dock_structures(rec, lig, arms, SearchConfig(step=30.0), potential.read(), top=3,
                          device=torch.device("cuda"))["shape+pair"]
    assert cpu[0].score == pytest.approx(gpu[0].score, rel=1e-3)
