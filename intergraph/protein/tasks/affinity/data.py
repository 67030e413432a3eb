"""Binding-affinity data: complexes from a PDBbind-style folder (``lba_toy``) or Atom3D LBA LMDB data sets, and
their atom graphs with PLM features of the pocket residues (taken from the whole chain's embedding)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ....data import dataset_path
from ....errors import InputError, MissingError
from ...featurize import featurize
from ...io import atom3d_atoms_to_structure, atom3d_entries, read_structure
from ...structure import Structure, StructureError
from .ligand import ligand_from_atoms, read_ligand
from .model import complex_graph


@dataclass
class AffinityComplex:
    id: str
    pocket: Structure
    ligand: object               # RDKit molecule, heavy atoms, 3D
    pk: float
    protein: Structure | None    # whole protein, for PLM features of the pocket residues


def lba_folder(root: str | Path) -> tuple[list[AffinityComplex], list[tuple[str, str]]]:
    """``root/labels.csv`` (pdbid,pK) and ``root/complexes/{id}/{id}_{pocket.pdb[.gz],ligand.sdf|mol2,
    protein.pdb[.gz]}`` (PDBbind layout). Unreadable complexes are skipped and returned with the reason."""
    root = Path(root)
    labels = root / "labels.csv"
    if not labels.exists():
        raise MissingError(f"{root}: no labels.csv (pdbid,pK)")
    out, skipped = [], []
    for row in csv.DictReader(open(labels)):
        cid = row["pdbid"]
        folder = root / "complexes" / cid
        try:
            pocket = read_structure(_first(folder, f"{cid}_pocket", (".pdb.gz", ".pdb")))
            ligand = read_ligand(_first(folder, f"{cid}_ligand", (".sdf", ".mol2")))
            protein_file = _first(folder, f"{cid}_protein", (".pdb.gz", ".pdb"), required=False)
            out.append(AffinityComplex(cid, pocket, ligand, float(row["pK"]),
                                       read_structure(protein_file) if protein_file else None))
        except (ValueError, OSError) as e:
            skipped.append((cid, str(e)))
    return out, skipped


def _first(folder: Path, stem: str, suffixes, required: bool = True) -> Path | None:
    for s in suffixes:
        if (folder / (stem + s)).exists():
            return folder / (stem + s)
    if required:
        raise MissingError(f"{folder}: no {stem}{'|'.join(suffixes)}")
    return None


def read_lba_lmdb(path: str | Path) -> tuple[list[AffinityComplex], list[tuple[str, str]]]:
    """Entries of an Atom3D LBA LMDB data set (``atoms_pocket``, ``atoms_ligand``, ``atoms_protein`` tables,
    ``smiles``, ``scores.neglog_aff``); ligands are rebuilt from their atoms and SMILES. Entries that cannot
    be read are skipped with the reason; a data set that is not LBA at all is refused."""
    path = Path(path)
    out, skipped = [], []
    for i, item in atom3d_entries(path):
        if item is None:
            skipped.append((str(i), "entry missing although num_examples counts it"))
            continue
        cid = str(item.get("id", i))
        lacking = [k for k in ("atoms_pocket", "atoms_ligand", "scores") if k not in item]
        if lacking:
            raise StructureError(path, f"entry {i} ({cid}) lacks {', '.join(lacking)}: not an Atom3D LBA "
                                       f"data set")
        try:
            src = f"{path}#{cid}"
            pocket = atom3d_atoms_to_structure(item["atoms_pocket"], src + ":pocket")
            table = item["atoms_ligand"]
            col = {c: k for k, c in enumerate(table["columns"])}
            rows = table["data"]
            ligand = ligand_from_atoms([r[col["element"]] for r in rows],
                                       np.array([[r[col[a]] for a in "xyz"] for r in rows], dtype=float),
                                       item.get("smiles", ""), src + ":ligand")
            protein = atom3d_atoms_to_structure(item["atoms_protein"], src + ":protein") \
                if "atoms_protein" in item else None
            out.append(AffinityComplex(cid, pocket, ligand, float(item["scores"]["neglog_aff"]), protein))
        except (ValueError, KeyError, TypeError) as e:
            skipped.append((cid, str(e)))
    return out, skipped


def pocket_plm(c: AffinityComplex, store, model: str, layers: str) -> tuple[np.ndarray, np.ndarray]:
    """Per pocket residue: the embedding row of the same residue in its whole chain (matched by chain, number
    and insertion code); False in the mask where the pocket residue is not in the protein (ions, waters)."""
    from ...plm.align import attach_from_store

    if c.protein is None:
        raise InputError(f"{c.id}: PLM features need the whole protein (the pocket alone is a few fragments)")
    g = featurize(c.protein, name=c.id)
    attach_from_store(g, store, model, layers)
    key = {(g.chain_ids[int(ch)], int(n), int(ic)): k
           for k, (ch, n, ic) in enumerate(zip(g.chain, g.residue_number, g.insertion_code))}
    emb = np.zeros((c.pocket.n_residues, g.plm.shape[1]), dtype=np.float32)
    mask = np.zeros(c.pocket.n_residues, dtype=bool)
    for r in range(c.pocket.n_residues):
        icode = c.pocket.res_icode[r]
        k = key.get((str(c.pocket.res_chain[r]), int(c.pocket.res_number[r]), ord(icode) if icode else 0))
        if k is not None and bool(g.plm_mask[k]):
            emb[r], mask[r] = g.plm[k].numpy(), True
    return emb, mask


def load_complexes(source: str) -> tuple[list[AffinityComplex], dict[str, list[str]], list[tuple[str, str]]]:
    """Every readable complex of ``source`` (``lba_toy``, a folder in its layout, an Atom3D LBA LMDB, or a folder
    of ``train``/``val``/``test`` LMDBs), the source's own splits (empty when it has none) and the skipped
    items with the reason."""
    path = dataset_path("lba_toy") if source == "lba_toy" else Path(source)
    if not path.exists():
        raise MissingError(f"{path}: no such affinity data set")
    if (path / "labels.csv").exists():
        complexes, skipped = lba_folder(path)
        return complexes, {}, skipped
    if all((path / s).exists() for s in ("train", "val", "test")):
        complexes, splits, skipped = [], {}, []
        for s in ("train", "val", "test"):
            part, bad = read_lba_lmdb(path / s)
            complexes += part
            splits[s] = [c.id for c in part]
            skipped += bad
        return complexes, splits, skipped
    complexes, skipped = read_lba_lmdb(path)
    return complexes, {}, skipped


def plm_features(arm: str, cache_dir: str, complexes: list[AffinityComplex]
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Per complex: the pocket residues' rows of their whole chains' embeddings (our own PLM)."""
    if arm == "none":
        return None
    if arm != "default":
        raise InputError(f"affinity PLM arm must be none or default (no ESM-2 embeddings exist for these "
                         f"proteins here), not {arm!r}")
    from ...plm.arms import own_plm
    from ...plm.extract import LayerSpec
    from ...plm.pipeline import embed_to_store
    from ...plm.store import EmbeddingStore

    plm = own_plm()
    named = [(f"{c.id}_{ch.id}", ch.sequence) for c in complexes if c.protein is not None for ch in c.protein.chains()]
    with EmbeddingStore(Path(cache_dir) / "plm_store") as store:
        embed_to_store(plm, named, store, LayerSpec())
        return {c.id: pocket_plm(c, store, plm.id, LayerSpec().key(plm.num_layers)) for c in complexes}


def graphs_of(complexes: list[AffinityComplex], arm: str, cache_dir: str, radius: float) -> list:
    """Atom graphs (``y`` = pK, ``id``) of the complexes, with PLM features of the pocket residues."""
    plm = plm_features(arm, cache_dir, complexes)
    out = []
    for c in complexes:
        g = complex_graph(c.pocket, c.ligand, plm[c.id] if plm else None, radius, name=c.id)
        g.y, g.id = torch.tensor([c.pk], dtype=torch.float32), c.id
        out.append(g)
    return out
