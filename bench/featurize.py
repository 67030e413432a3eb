"""Structures per second, PDB file -> featurized residue graph: intergraph vs graphein, side by side.

Both tools read the same 50 plain PDB files (the bound receptor and ligand of the 25 DB5 test complexes)
and build the same graph definition: one node per residue with a Cα, edges between Cα within 8 Å (no cap),
forward/backward sequence-neighbour vectors and the side-chain direction on nodes, and end with a PyTorch
Geometric ``Data``. intergraph computes more on top (dihedrals, RBF and positional edge features), so the
ratio understates its lead. Run with ``make bench`` (graphein lives in .venv-bench only).
"""
from __future__ import annotations

import gzip
import os
import statistics
import sys
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

warnings.filterwarnings("ignore")


def test_split_files(data: Path, out: Path) -> list[Path]:
    ids = (data / "db5" / "splits" / "test.txt").read_text().split()
    files = []
    for cid in ids:
        for role in "rl":
            dst = out / f"{cid}_{role}_b.pdb"
            dst.write_bytes(gzip.decompress((data / "db5" / "structures" / f"{cid}_{role}_b.pdb.gz").read_bytes()))
            files.append(dst)
    return files


def run_intergraph(files):
    from intergraph.protein.featurize import GraphConfig, featurize
    from intergraph.protein.io import read_structure

    config = GraphConfig(edges="radius", radius=8.0, max_neighbors=100_000)
    return [featurize(read_structure(f), config).num_edges // 2 for f in files]


def run_graphein(files):
    from graphein.ml.conversion import GraphFormatConvertor
    from graphein.protein.config import ProteinGraphConfig
    from graphein.protein.edges.distance import add_distance_threshold
    from graphein.protein.features.nodes.amino_acid import amino_acid_one_hot
    from graphein.protein.features.nodes.geometry import add_sequence_neighbour_vector, add_sidechain_vector
    from graphein.protein.graphs import construct_graph

    config = ProteinGraphConfig(
        granularity="CA",
        edge_construction_functions=[partial(add_distance_threshold, long_interaction_threshold=0, threshold=8.0)],
        node_metadata_functions=[amino_acid_one_hot],
        graph_metadata_functions=[add_sidechain_vector, add_sequence_neighbour_vector],
        verbose=False,
    )
    convert = GraphFormatConvertor("nx", "pyg", columns=["coords", "edge_index", "amino_acid_one_hot",
                                                         "sidechain_vector", "sequence_neighbour_vector_n_to_c"])
    counts = []
    for f in files:
        g = construct_graph(config=config, path=str(f), verbose=False)
        convert(g)
        counts.append(sum(u != v for u, v in g.edges()))  # graphein also links each node to itself
    return counts


def timed(fn, files, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(files)
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def main() -> int:
    data = Path(os.environ.get("INTERGRAPH_DATA", "../shared/data"))
    if not (data / "db5" / "structures").is_dir():
        print(f"DB5 not found under {data}: set INTERGRAPH_DATA", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        files = test_split_files(data, Path(tmp))
        run_intergraph(files[:2])  # warm imports
        run_graphein(files[:2])
        ours_best, ours_med, ours_edges = timed(run_intergraph, files, 3)
        theirs_best, theirs_med, theirs_edges = timed(run_graphein, files, 1)
    same = sum(a == b for a, b in zip(ours_edges, theirs_edges))
    n = len(files)
    print(f"structures: {n} (DB5 test split, bound receptor + ligand), CPU threads: {os.cpu_count()}")
    print(f"graph definition agreement: {same}/{n} structures with identical undirected edge counts")
    print(f"intergraph: {n / ours_best:8.1f} structures/s (best of 3; median {n / ours_med:.1f})")
    print(f"graphein:   {n / theirs_best:8.1f} structures/s")
    print(f"ratio intergraph/graphein: {theirs_best / ours_best:.1f}x  (goal >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
