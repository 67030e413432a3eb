"""Lining up an embedded sequence with a structure's observed residues.

A global alignment with free end gaps (BLOSUM62, gap open 10, extend 1) gives an explicit map from each
structure residue to an embedding row, or -1 where the structure residue has no counterpart. Nothing is
renumbered or padded: residues without an embedding get a zero vector and a mask flag downstream.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...errors import InputError

#: letters biotite's protein alphabet lacks, aligned as their parent amino acid
_ALIGN_AS = str.maketrans({"U": "C", "O": "K"})


class AlignmentError(InputError):
    pass


@dataclass
class Alignment:
    rows: np.ndarray  # int64 per structure residue: embedding row, or -1
    aligned: int  # aligned pairs (both sides present)
    identical: int  # aligned pairs with the same letter
    structure_length: int
    embedded_length: int

    @property
    def identity(self) -> float:
        return self.identical / self.aligned if self.aligned else 0.0

    @property
    def coverage(self) -> float:
        return self.identical / self.structure_length if self.structure_length else 0.0


def align(embedded: str, structure: str) -> Alignment:
    """Align the embedded sequence to the structure residues' sequence (one letter per residue)."""
    if not embedded or not structure:
        raise AlignmentError("cannot align an empty sequence")
    if embedded == structure:
        rows = np.arange(len(structure), dtype=np.int64)
        return Alignment(rows, len(structure), len(structure), len(structure), len(embedded))
    import biotite.sequence as bseq
    import biotite.sequence.align as balign

    a = bseq.ProteinSequence(embedded.translate(_ALIGN_AS))
    b = bseq.ProteinSequence(structure.translate(_ALIGN_AS))
    matrix = balign.SubstitutionMatrix.std_protein_matrix()
    trace = balign.align_optimal(a, b, matrix, gap_penalty=(-10, -1), terminal_penalty=False, max_number=1)[0].trace
    rows = np.full(len(structure), -1, dtype=np.int64)
    pairs = trace[(trace[:, 0] >= 0) & (trace[:, 1] >= 0)]
    rows[pairs[:, 1]] = pairs[:, 0]
    identical = int(sum(embedded[i] == structure[j] for i, j in pairs))
    return Alignment(rows, len(pairs), identical, len(structure), len(embedded))


def checked_alignment(embedded: str, structure: str, what: str, min_identity: float = 0.9,
                      min_coverage: float = 0.5) -> Alignment:
    """:func:`align`, raising :class:`AlignmentError` naming ``what`` and both figures when below threshold."""
    al = align(embedded, structure)
    if al.identity < min_identity or al.coverage < min_coverage:
        raise AlignmentError(
            f"{what}: embedded sequence ({al.embedded_length} residues) does not match the structure "
            f"({al.structure_length} residues): identity {al.identity:.3f} (minimum {min_identity}), "
            f"coverage {al.coverage:.3f} (minimum {min_coverage})"
        )
    return al


def attach(graph, pieces: dict[str | None, tuple[str, np.ndarray]], min_identity: float = 0.9,
           min_coverage: float = 0.5):
    """Add ``plm`` (L, D) float32 and ``plm_mask`` (L,) bool node features to a residue graph.

    ``pieces`` maps a chain id to (embedded sequence, embedding); the key ``None`` stands for one embedding
    of the whole graph (all chains in file order). Each piece is aligned to the sequence of its nodes;
    nodes without a counterpart get zeros and ``plm_mask`` False. Identity and coverage per piece are kept
    in ``plm_identity`` / ``plm_coverage`` (lists, in the order of ``pieces``).
    """
    dims = {np.asarray(e).shape[1] for _, e in pieces.values()}
    if len(dims) != 1:
        raise AlignmentError(f"{graph.name}: embeddings of different widths {sorted(dims)}")
    plm = torch.zeros(graph.num_nodes, dims.pop(), dtype=torch.float32)
    mask = torch.zeros(graph.num_nodes, dtype=torch.bool)
    identity, coverage = [], []
    for chain, (embedded, emb) in pieces.items():
        emb = np.asarray(emb)
        if emb.shape[0] != len(embedded):
            raise AlignmentError(f"{graph.name}: {emb.shape[0]} embedding rows for a {len(embedded)}-residue sequence")
        if chain is None:
            nodes = torch.arange(graph.num_nodes)
        else:
            if chain not in graph.chain_ids:
                raise AlignmentError(f"{graph.name}: no chain {chain!r} (chains: {', '.join(graph.chain_ids)})")
            nodes = (graph.chain == graph.chain_ids.index(chain)).nonzero().flatten()
        node_seq = "".join(graph.sequence[i] for i in nodes.tolist())
        what = f"{graph.name}" + (f" chain {chain}" if chain is not None else "")
        al = checked_alignment(embedded, node_seq, what, min_identity, min_coverage)
        rows = torch.from_numpy(al.rows)
        hit = rows >= 0
        plm[nodes[hit]] = torch.from_numpy(emb.astype(np.float32))[rows[hit]]
        mask[nodes[hit]] = True
        identity.append(round(al.identity, 4))
        coverage.append(round(al.coverage, 4))
    graph.plm, graph.plm_mask = plm, mask
    graph.plm_identity, graph.plm_coverage = identity, coverage
    return graph


def attach_from_store(graph, store, model: str, layers: str, **thresholds):
    """Attach per-chain embeddings looked up by each chain's sequence (``graph.chain_sequences``); a chain whose
    exact sequence is not stored takes the stored sequence that aligns best to it within the thresholds (an
    embedding of the full chain for a structure with missing or extra residues), see :func:`nearest_stored`."""
    pieces = {}
    for chain, seq in zip(graph.chain_ids, graph.chain_sequences):
        emb = store.get(model, layers, seq)
        embedded = seq
        if emb is None:
            embedded = nearest_stored(store, model, layers, seq, **thresholds)
            if embedded is None:
                raise AlignmentError(
                    f"{graph.name} chain {chain}: no {model} layer {layers} embedding in {store.path} "
                    f"for its {len(seq)}-residue sequence or one aligning to it; run `intergraph plm embed` first"
                )
            emb = store.get(model, layers, embedded)
        pieces[chain] = (embedded, emb)
    return attach(graph, pieces, **thresholds)


def nearest_stored(store, model: str, layers: str, seq: str, min_identity: float = 0.9, min_coverage: float = 0.5,
                   candidates: int = 5, k: int = 3) -> str | None:
    """The stored sequence (of ``model`` / ``layers``) whose alignment to ``seq`` covers most of it, among the
    ``candidates`` sharing most k-mers with it, if its identity and coverage reach the thresholds; else None."""
    def kmers(s: str) -> set[str]:
        return {s[i:i + k] for i in range(len(s) - k + 1)}

    mine = kmers(seq)
    shared = sorted(((len(mine & kmers(s)), s) for s in store.sequences(model, layers)), reverse=True)
    best, best_coverage = None, -1.0
    for n, stored in shared[:candidates]:
        if not n:
            break
        al = align(stored, seq)
        if al.identity >= min_identity and al.coverage >= min_coverage and al.coverage > best_coverage:
            best, best_coverage = stored, al.coverage
    return best
