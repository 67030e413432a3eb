"""Where data sets live: ``INTERGRAPH_DATA`` (default ``../shared/data`` when that folder exists)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import MissingError


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    folder: str
    marker: str  # a file or folder whose presence says the data set is there
    description: str
    fetchable: bool = False


DATASETS = {
    d.name: d
    for d in [
        DatasetInfo("db5", "db5", "structures", "Docking Benchmark 5.5: 271 complexes, EquiDock split", fetchable=True),
        DatasetInfo("esm2_650m_db5", "esm2_650m_db5", "index.csv", "ESM-2 650M embeddings of 74 DB5 complexes"),
        DatasetInfo("lba_toy", "lba_toy", "labels.csv", "protein-ligand complexes with affinities"),
        DatasetInfo("pdbbind_casf", "pdbbind_casf", "labels.csv", "CASF-2016 core set + training complexes, RF-Score "
                    "features of PDBbind"),
        DatasetInfo("qa_decoys", "qa_decoys", "1ATN", "labelled docking decoys"),
        DatasetInfo("psr_casp13", "psr_casp13", "labels.csv", "CASP13 single-chain server models with GDT_TS / "
                    "lDDT / TM-score labels (39 targets with natives, 3 without)"),
        DatasetInfo("sequences", "sequences", "natural.fasta.gz", "53k natural protein sequences"),
        DatasetInfo("atom3d_sample", "atom3d_sample", "lmdb", "Atom3D LMDB sample"),
        DatasetInfo("video", "video", "something_else", "Something-Something V2 clips with boxes"),
    ]
}


class DatasetNotFound(MissingError):
    """A data set is missing; the message says where we looked and how to get it."""


def data_root() -> Path:
    env = os.environ.get("INTERGRAPH_DATA")
    if env:
        return Path(env).expanduser()
    default = Path.cwd().parent / "shared" / "data"
    return default


def dataset_path(name: str, root: str | Path | None = None) -> Path:
    """Folder of data set ``name``; raises :class:`DatasetNotFound` with a one-line remedy when absent."""
    info = DATASETS[name]
    base = Path(root) if root is not None else data_root()
    path = base / info.folder
    if not (path / info.marker).exists():
        how = (
            f"run `intergraph data fetch {name} --to DIR` and set INTERGRAPH_DATA=DIR"
            if info.fetchable
            else "set INTERGRAPH_DATA to the folder that holds it"
        )
        raise DatasetNotFound(f"{info.description} not found: searched {path}; {how}")
    return path


def available_datasets(root: str | Path | None = None) -> dict[str, Path | None]:
    out: dict[str, Path | None] = {}
    for name in DATASETS:
        try:
            out[name] = dataset_path(name, root)
        except DatasetNotFound:
            out[name] = None
    return out
