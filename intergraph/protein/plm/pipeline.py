"""Filling an embedding store: from sequences through a model, or from files computed elsewhere."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..batch import expand_inputs
from ..fasta import read_fasta
from ..io import read_structure
from ..structure import StructureError
from .backends import PLM
from .extract import LayerSpec, embed
from .imports import ImportProblem, read_esm_extract, read_npz
from .store import EmbeddingStore


@dataclass
class JobReport:
    done: int = 0
    skipped: int = 0  # already in the store
    failed: list[tuple[str, str]] = field(default_factory=list)


def sequences_from_structures(inputs: Iterable[str | Path], report: JobReport) -> list[tuple[str, str]]:
    """(name, sequence) for every polymer chain of every readable structure; bad files go to the report."""
    files, bad = expand_inputs(inputs)
    report.failed.extend(bad)
    out = []
    for f in files:
        try:
            s = read_structure(f)
        except StructureError as e:
            report.failed.append((str(f), e.problem))
            continue
        for chain in s.chains():
            out.append((f"{f.name}:{chain.id}", chain.sequence))
    return out


def embed_to_store(plm: PLM, named: list[tuple[str, str]], store: EmbeddingStore, spec: LayerSpec,
                   token_budget: int = 0, window: int = 1022, overlap: int = 256,
                   progress: Callable[[int, int], None] | None = None, report: JobReport | None = None) -> JobReport:
    """Embed every sequence not yet stored; each batch is committed as it finishes (crash-safe)."""
    report = report or JobReport()
    layers = spec.key(plm.num_layers)
    unique = list(dict.fromkeys(seq for _, seq in named))
    todo = store.missing(plm.id, layers, unique)
    report.skipped += len(unique) - len(todo)
    if progress:
        progress(0, len(todo))
    store.put_names(plm.id, layers, named)
    for finished in embed(plm, todo, spec, token_budget, window, overlap):
        store.put_many(plm.id, layers, [(todo[i], e) for i, e in finished])
        report.done += len(finished)
        if progress:
            progress(report.done, len(todo))
    return report


def import_to_store(paths: Iterable[str | Path], store: EmbeddingStore, model: str, layers: str | None,
                    fasta: str | Path | None = None, report: JobReport | None = None) -> JobReport:
    """Import ``.npz`` (arrays seq, emb) and ``esm extract`` ``.pt`` files; bad files are reported, not fatal."""
    report = report or JobReport()
    sequences = {h: s for h, s in read_fasta(fasta)} if fasta else {}
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".npz", ".pt")))
        elif p.exists():
            files.append(p)
        else:
            report.failed.append((str(p), "no such file or folder"))
    for f in files:
        try:
            if f.suffix == ".npz":
                if layers is None:
                    raise ImportProblem(f, "an .npz does not say which layer it holds: pass --layers")
                seq, emb, _ = read_npz(f)
                items = {layers: [(seq, emb)]}
                name = f.stem
            elif f.suffix == ".pt":
                if not sequences:
                    raise ImportProblem(f, "esm extract files hold no sequence: pass --fasta with the extracted "
                                           "sequences")
                name, seq, reps = read_esm_extract(f, sequences)
                items = {str(k): [(seq, e)] for k, e in reps.items() if layers is None or str(k) == layers}
                if not items:
                    raise ImportProblem(f, f"no layer {layers} (has {', '.join(map(str, reps))})")
            else:
                raise ImportProblem(f, "unknown embedding file type (expected .npz or .pt)")
        except ImportProblem as e:
            report.failed.append((str(f), e.problem))
            continue
        for layer_key, pairs in items.items():
            store.put_many(model, layer_key, pairs, [name])
        report.done += 1
    return report
