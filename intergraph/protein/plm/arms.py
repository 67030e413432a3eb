"""PLM arms, resolved in one place: what ``--plm none|default|esm2_650m|STORE`` means for a run.

- ``none``: no PLM features.
- ``default``: our own small ESM-2-architecture PLM (shipped); every chain a run needs is embedded on first
  use into the run's cache store, and chains of new inputs are embedded on the fly.
- ``esm2_650m``: the shared real ESM-2 650M embeddings of 74 DB5 complexes, imported into the cache store.
- a store path (with ``plm_model`` / ``plm_layers``): embeddings computed beforehand (``intergraph plm
  embed``); chains the store lacks are an error that says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ...errors import InputError

ARMS = ("none", "default", "esm2_650m")


@dataclass
class PLMSource:
    """Where node embeddings come from: a store, the model id and layer key they were stored under."""

    store: str | Path
    model: str
    layers: str
    min_identity: float = 0.9
    min_coverage: float = 0.5


def resolve(arm: str, cache_dir: str | Path, structures: Iterable[Path] = (), model: str = "",
            layers: str = "") -> PLMSource | None:
    """The :class:`PLMSource` of an arm, filling the cache store on first use (idempotent). ``structures``:
    the files whose chains the own PLM (``default``) embeds now."""
    if arm == "none":
        return None
    from ...data import dataset_path
    from .extract import LayerSpec
    from .pipeline import JobReport, embed_to_store, import_to_store, sequences_from_structures
    from .registry import PAPER_PLM
    from .store import EmbeddingStore

    store = Path(cache_dir) / "plm_store"
    if arm == "esm2_650m":
        files = sorted(dataset_path("esm2_650m_db5").glob("*.npz"))
        with EmbeddingStore(store) as s:
            if any(s.sequence_named(PAPER_PLM, "33", f.stem) is None for f in files):
                import_to_store(files, s, PAPER_PLM, "33")
        return PLMSource(store, PAPER_PLM, "33", min_coverage=0.6)
    if arm == "default":
        plm = own_plm()
        report = JobReport()
        named = sequences_from_structures(list(structures), report)
        if report.failed:
            raise InputError(f"unreadable structures: {report.failed[:3]}")
        with EmbeddingStore(store) as s:
            embed_to_store(plm, named, s, LayerSpec())
        return PLMSource(store, plm.id, LayerSpec().key(plm.num_layers))
    path = Path(arm)
    if not path.exists():
        raise InputError(f"--plm {arm!r}: not one of {', '.join(ARMS)} and no such store folder")
    if not model or not layers:
        raise InputError(f"--plm {arm}: a store needs --plm-model and --plm-layers (see `intergraph plm ls`)")
    return PLMSource(path, model, layers)


def own_plm():
    """Our own PLM (shipped with the package)."""
    from .backends import load_plm
    from .registry import DEFAULT_PLM

    return load_plm(DEFAULT_PLM)


def width(arm: str, cache_dir: str | Path, model: str = "", layers: str = "") -> int | None:
    """Embedding width of an arm (None: no PLM), without embedding anything."""
    if arm == "none":
        return None
    if arm == "default":
        return own_plm().embed_dim
    return dim(resolve(arm, cache_dir, (), model, layers))


def dim(source: PLMSource) -> int:
    """Embedding width of the source's model and layers in its store."""
    from .store import EmbeddingStore

    with EmbeddingStore(source.store, readonly=True) as s:
        dims = [x.dim for x in s.summary() if x.model == source.model and x.layers == source.layers]
    if not dims:
        raise InputError(f"{source.store}: no embeddings of {source.model} layers {source.layers}")
    return dims[0]


def attach_by_sequence(arm: str, source: PLMSource, graphs: list) -> None:
    """PLM features for graphs of arbitrary input files, looked up by chain sequence in the run's store. With
    our own PLM (``default``) the chains the store lacks are embedded first; other PLMs need ``intergraph plm
    embed`` beforehand (the :class:`AlignmentError` says so)."""
    from .align import attach_from_store
    from .store import EmbeddingStore

    if arm == "default":
        from .extract import LayerSpec
        from .pipeline import embed_to_store

        named = [(g.name, seq) for g in graphs for seq in g.chain_sequences]
        with EmbeddingStore(source.store) as store:
            embed_to_store(own_plm(), named, store, LayerSpec())
    with EmbeddingStore(source.store, readonly=True) as store:
        for g in graphs:
            attach_from_store(g, store, source.model, source.layers, min_identity=source.min_identity,
                              min_coverage=source.min_coverage)
