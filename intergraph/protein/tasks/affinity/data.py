"""Binding-affinity data: complexes from PDBbind-style folders (``lba_toy``, ``pdbbind_casf``) or Atom3D LBA LMDB
data sets; pocket groups (the same protein, for splits); atom graphs with PLM features of the pocket residues
(each contiguous pocket segment embedded on its own, or the whole chain where a protein file exists)."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ....data import dataset_path
from ....errors import InputError, MissingError
from ....graph.components import Components
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
    meta: dict = field(default_factory=dict)  # the label row's other columns (set, label source, ...)


#: split names of label tables -> train / val / test (CASF-2016's core set is its test set)
SET_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
             "test": "test", "core2016": "test", "core": "test"}


def pdbbind_folder(root: str | Path) -> tuple[list[AffinityComplex], dict[str, list[str]], list[tuple[str, str]]]:
    """A PDBbind-style folder: ``labels.csv`` (``pdbid`` or ``pdb_id``, ``pK``, optionally ``set`` and any other
    columns, kept as ``meta``; a ``manifest.csv`` beside it adds its columns too) and
    ``complexes/`` or ``structures/`` ``{id}/{id}_pocket.pdb[.gz]``, ``{id}_ligand.mol2|sdf[.gz]`` (mol2 first: the
    reliable format of PDBbind's files; SDF when there is no mol2 or RDKit rejects it) and optionally
    ``{id}_protein.pdb[.gz]``. Returns the readable complexes, the splits the ``set`` column gives (empty without
    one) and the skipped complexes with the reason."""
    root = Path(root)
    labels = root / "labels.csv"
    if not labels.exists():
        raise MissingError(f"{root}: no labels.csv (pdbid,pK)")
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    key = "pdbid" if rows and "pdbid" in rows[0] else "pdb_id"
    if not rows or key not in rows[0] or "pK" not in rows[0]:
        raise InputError(f"{labels}: needs the columns pdbid (or pdb_id) and pK")
    manifest = {}
    if (root / "manifest.csv").exists():
        with open(root / "manifest.csv", newline="") as f:
            manifest = {r.get("pdb_id") or r.get("pdbid"): r for r in csv.DictReader(f)}
    base = root / "complexes" if (root / "complexes").is_dir() else root / "structures"
    out, splits, skipped = [], {}, []
    for row in rows:
        cid = row[key]
        folder = base / cid
        meta = {k: v for k, v in {**manifest.get(cid, {}), **row}.items() if k not in (key, "pK")}
        try:
            pocket = read_structure(_first(folder, f"{cid}_pocket", (".pdb.gz", ".pdb")))
            ligands = [folder / f"{cid}_ligand{s}" for s in (".mol2", ".mol2.gz", ".sdf", ".sdf.gz")]
            ligands = [p for p in ligands if p.exists()]
            if not ligands:
                raise MissingError(f"{folder}: no {cid}_ligand.mol2|sdf[.gz]")
            ligand = read_ligand(*ligands)
            protein_file = _first(folder, f"{cid}_protein", (".pdb.gz", ".pdb"), required=False)
            out.append(AffinityComplex(cid, pocket, ligand, float(row["pK"]),
                                       read_structure(protein_file) if protein_file else None, meta))
        except (ValueError, OSError) as e:
            skipped.append((cid, str(e)))
            continue
        split = SET_NAMES.get((row.get("set") or "").strip().lower())
        if split:
            splits.setdefault(split, []).append(cid)
    return out, splits, skipped


def label_notes(complexes: list[AffinityComplex]) -> str:
    """What the label tables say about the labels: how many come from PDBbind's general set (Kd/Ki or IC50,
    PDBbind's index tells which) and how many pockets were derived rather than PDBbind's own files."""
    general = [c.id for c in complexes if "general" in c.meta.get("source_index_file", "").lower()]
    derived = [c.id for c in complexes if c.meta.get("struct_source", "").startswith("c13")
               or "derived" in c.meta.get("note", "")]
    parts = []
    if general:
        parts.append(f"{len(general)} labels from PDBbind's general set (Kd/Ki or IC50)")
    if derived:
        parts.append(f"{len(derived)} pockets derived (cut from a docking-prepared receptor), not PDBbind's own")
    return "; ".join(parts)


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


def pocket_segments(pocket: Structure) -> list[tuple[np.ndarray, str]]:
    """The pocket's amino-acid residues as contiguous segments: (residue indices, one-letter sequence), a new
    segment wherever the chain changes or the residue number does not go on by 0 (insertion codes) or 1."""
    out: list[tuple[list[int], str]] = []
    prev = None
    for r in np.flatnonzero(pocket.res_polymer):
        key = (str(pocket.res_chain[r]), int(pocket.res_number[r]))
        if prev is None or key[0] != prev[0] or key[1] - prev[1] not in (0, 1):  # 0: insertion codes
            out.append(([], ""))
        rows, seq = out[-1]
        out[-1] = (rows + [int(r)], seq + str(pocket.res_letter[r]))
        prev = key
    return [(np.asarray(rows, dtype=np.int64), seq) for rows, seq in out]


def pocket_groups(complexes: list[AffinityComplex], k: int = 4, overlap: float = 0.4) -> dict[str, str]:
    """Complex id -> its group's first id: pockets of the same protein, judged from the pockets alone (the
    files hold no whole sequence): two pockets whose segments share at least ``overlap`` of the smaller one's
    ``k``-mers are linked, groups are the connected components. (On CASF-2016's core set, whose 285 complexes
    are 57 proteins with 5 ligands each, this gives 66 groups, 40 of them exactly 5 complexes.)"""
    kmers = {c.id: {seq[i:i + k] for _, seq in pocket_segments(c.pocket) for i in range(len(seq) - k + 1)}
             for c in complexes}
    ids = sorted(kmers)
    components = Components(ids)
    for a_i, a in enumerate(ids):
        for b in ids[a_i + 1:]:
            x, y = kmers[a], kmers[b]
            if x and y and not components.same(a, b) and len(x & y) >= overlap * min(len(x), len(y)):
                components.join(a, b)
    return components.names()


def _chain_rows(c: AffinityComplex, store, model: str, layers: str) -> tuple[np.ndarray, np.ndarray]:
    """Per pocket residue: the embedding row of the same residue in its whole chain (matched by chain, number
    and insertion code); False in the mask where the pocket residue is not in the protein (ions, waters)."""
    from ...plm.align import attach_from_store

    if c.protein is None:
        raise InputError(f"{c.id}: whole-chain PLM features need the whole protein ({c.id}_protein.pdb); "
                         f"use affinity.plm_sequence=segments for pockets alone")
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


def _segment_rows(c: AffinityComplex, store, model: str, layers: str) -> tuple[np.ndarray, np.ndarray]:
    """Per pocket residue: its row in the embedding of its own contiguous pocket segment."""
    from ...plm.align import AlignmentError

    rows_emb = []
    for rows, seq in pocket_segments(c.pocket):
        emb = store.get(model, layers, seq)
        if emb is None:
            raise AlignmentError(f"{c.id}: no {model} layer {layers} embedding of its pocket segment {seq} in "
                                 f"{store.path}; run `intergraph plm embed` first")
        rows_emb.append((rows, emb))
    dim = rows_emb[0][1].shape[1]
    emb = np.zeros((c.pocket.n_residues, dim), dtype=np.float32)
    mask = np.zeros(c.pocket.n_residues, dtype=bool)
    for rows, e in rows_emb:
        emb[rows], mask[rows] = e, True
    return emb, mask


def plm_sequences(c: AffinityComplex, how: str) -> list[tuple[str, str]]:
    """(name, sequence) the PLM embeds for a complex: its pocket segments, or its protein's chains."""
    if how == "segments":
        return [(f"{c.id}_pocket{k}", seq) for k, (_, seq) in enumerate(pocket_segments(c.pocket))]
    if how == "chain":
        return [(f"{c.id}_{ch.id}", ch.sequence) for ch in (c.protein.chains() if c.protein is not None else [])]
    raise InputError(f"affinity.plm_sequence must be segments or chain, not {how!r}")


def load_complexes(source: str) -> tuple[list[AffinityComplex], dict[str, list[str]], list[tuple[str, str]]]:
    """Every readable complex of ``source`` (``lba_toy``, ``pdbbind_casf``, a folder in their layout, an Atom3D LBA
    LMDB, or a folder of ``train``/``val``/``test`` LMDBs), the source's own splits (empty when it has none) and
    the skipped items with the reason."""
    path = dataset_path(source) if source in ("lba_toy", "pdbbind_casf") else Path(source)
    if not path.exists():
        raise MissingError(f"{path}: no such affinity data set")
    if (path / "labels.csv").exists():
        return pdbbind_folder(path)
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


def plm_features(arm: str, cache_dir: str, complexes: list[AffinityComplex], how: str = "segments",
                 model: str = "", layers: str = "") -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Per complex: (per pocket residue embedding, mask). ``how``: ``segments`` embeds each contiguous pocket
    segment on its own (pocket files hold only the pocket), ``chain`` takes the pocket residues' rows of their
    whole chains (a protein file is needed). Our own PLM (``default``) embeds what it needs; a store path must
    hold the sequences already."""
    if arm == "none":
        return None
    if arm == "esm2_650m":
        raise InputError("the shared ESM-2 650M embeddings cover DB5 chains only: use --plm default or a store")
    from ...plm.arms import own_plm, resolve
    from ...plm.extract import LayerSpec
    from ...plm.pipeline import embed_to_store
    from ...plm.store import EmbeddingStore

    source = resolve(arm, cache_dir, (), model, layers)
    if arm == "default":
        named = [item for c in complexes for item in plm_sequences(c, how)]
        with EmbeddingStore(source.store) as store:
            embed_to_store(own_plm(), named, store, LayerSpec())
    rows = _segment_rows if how == "segments" else _chain_rows
    with EmbeddingStore(source.store, readonly=True) as store:
        return {c.id: rows(c, store, source.model, source.layers) for c in complexes}


def graphs_of(complexes: list[AffinityComplex], arm: str, cache_dir: str, radius: float, how: str = "segments",
              model: str = "", layers: str = "") -> list:
    """Atom graphs (``y`` = pK, ``id``) of the complexes, with PLM features of the pocket residues."""
    plm = plm_features(arm, cache_dir, complexes, how, model, layers)
    out = []
    for c in complexes:
        g = complex_graph(c.pocket, c.ligand, plm[c.id] if plm else None, radius, name=c.id)
        g.y, g.id = torch.tensor([c.pk], dtype=torch.float32), c.id
        out.append(g)
    return out
