"""A persistent, crash-safe embedding store in LMDB.

Keys are (model id, layer spec, sha256 of the sequence); values hold the sequence itself and its L×D
embedding in float16. A second table maps names (a FASTA header, an imported file's stem such as
``1ACB.A``) to sequences, for data sets whose embedded sequence differs from the structure's. Each batch is
written in one LMDB transaction, so a process killed at any moment loses at most the batch in flight and never
leaves a half-written entry (LMDB is ACID with many readers and one writer). Reads return NumPy arrays without
copying through pickle.
"""
from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import lmdb
import numpy as np

from ...errors import InputError

MAGIC = b"IGE1"
_HEADER = struct.Struct("<4sIII")  # magic, sequence length L, dim D, bytes of sequence text
MAP_SIZE = 1 << 40  # address space only; the file grows with its content


class StoreError(InputError):
    pass


def seq_hash(seq: str) -> str:
    return hashlib.sha256(seq.encode()).hexdigest()


def make_key(model: str, layers: str, seq: str) -> bytes:
    return f"{model}\t{layers}\t{seq_hash(seq)}".encode()


def encode(seq: str, emb: np.ndarray) -> bytes:
    emb = np.asarray(emb)
    if emb.ndim != 2 or emb.shape[0] != len(seq):
        raise StoreError(f"embedding of shape {emb.shape} does not match a sequence of {len(seq)} residues")
    if not np.isfinite(emb).all():
        raise StoreError("embedding has non-finite values")
    text = seq.encode()
    return _HEADER.pack(MAGIC, emb.shape[0], emb.shape[1], len(text)) + text + emb.astype("<f2").tobytes()


def decode(value: bytes) -> tuple[str, np.ndarray]:
    magic, length, dim, n_text = _HEADER.unpack_from(value)
    if magic != MAGIC:
        raise StoreError("not an intergraph embedding entry")
    start = _HEADER.size + n_text
    seq = bytes(value[_HEADER.size:start]).decode()
    emb = np.frombuffer(value, dtype="<f2", count=length * dim, offset=start).reshape(length, dim)
    return seq, emb


@dataclass
class StoreSummary:
    model: str
    layers: str
    count: int
    residues: int
    dim: int
    bytes: int


# LMDB allows one open environment per file and process: stores opened twice share it (reference-counted).
_OPEN: dict[str, list] = {}


def _acquire(path: Path, readonly: bool) -> lmdb.Environment:
    """The process's environment for ``path``: opened writable whenever the folder allows it, so readers and
    a writer in one process can share it; read-only (and lock-free) only on read-only folders."""
    key = str(path.resolve())
    entry = _OPEN.get(key)
    if entry is not None:
        if entry[2] and not readonly:
            raise StoreError(f"{path}: the folder is read-only; cannot write embeddings")
        entry[1] += 1
        return entry[0]
    if not readonly:
        path.mkdir(parents=True, exist_ok=True)
    if os.access(key, os.W_OK):
        env = lmdb.open(key, map_size=MAP_SIZE, readahead=False, max_readers=512, max_dbs=2)
        env_readonly = False
    elif readonly:
        env = lmdb.open(key, readonly=True, lock=False, readahead=False, max_dbs=2)
        env_readonly = True
    else:
        raise StoreError(f"{path}: the folder is read-only; cannot write embeddings")
    _OPEN[key] = [env, 1, env_readonly]
    return env


def _release(path: Path) -> None:
    key = str(path.resolve())
    entry = _OPEN[key]
    entry[1] -= 1
    if entry[1] == 0:
        entry[0].close()
        del _OPEN[key]


class EmbeddingStore:
    """``with EmbeddingStore(path) as store: store.put_many(...); store.get(...)``."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly and not (self.path / "data.mdb").exists():
            raise StoreError(f"{self.path}: no embedding store here")
        self.env = _acquire(self.path, readonly)
        try:
            self.emb = self.env.open_db(b"emb", create=not readonly)
            self.names = self.env.open_db(b"names", create=not readonly)
        except lmdb.NotFoundError:  # a writer created the file but not yet its tables
            self.close()
            raise StoreError(f"{self.path}: no embedding store here (yet)") from None

    def _writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.env is not None:
            _release(self.path)
            self.env = None

    def put_many(self, model: str, layers: str, items: Iterable[tuple[str, np.ndarray]],
                 names: Iterable[str | None] | None = None) -> int:
        """Write all items (and their optional names) in one transaction, all or nothing."""
        self._writable()
        items = list(items)
        payload = [(make_key(model, layers, seq), encode(seq, emb)) for seq, emb in items]
        names = list(names) if names is not None else [None] * len(items)
        with self.env.begin(write=True) as txn:
            for key, value in payload:
                txn.put(key, value, db=self.emb)
            for (seq, _), name in zip(items, names):
                if name:
                    txn.put(f"{model}\t{layers}\t{name}".encode(), seq.encode(), db=self.names)
        return len(payload)

    def put_names(self, model: str, layers: str, named: Iterable[tuple[str, str]]) -> None:
        """Record (name, sequence) pairs so that entries can be found by name."""
        self._writable()
        with self.env.begin(write=True) as txn:
            for name, seq in named:
                txn.put(f"{model}\t{layers}\t{name}".encode(), seq.encode(), db=self.names)

    def sequence_named(self, model: str, layers: str, name: str) -> str | None:
        with self.env.begin() as txn:
            value = txn.get(f"{model}\t{layers}\t{name}".encode(), db=self.names)
        return None if value is None else value.decode()

    def get_named(self, model: str, layers: str, name: str) -> tuple[str, np.ndarray] | None:
        seq = self.sequence_named(model, layers, name)
        return None if seq is None else (seq, self.get(model, layers, seq))

    def has(self, model: str, layers: str, seq: str) -> bool:
        with self.env.begin() as txn:
            return txn.get(make_key(model, layers, seq), db=self.emb) is not None

    def missing(self, model: str, layers: str, seqs: Iterable[str]) -> list[str]:
        with self.env.begin() as txn:
            return [s for s in seqs if txn.get(make_key(model, layers, s), db=self.emb) is None]

    def get(self, model: str, layers: str, seq: str) -> np.ndarray | None:
        """The float16 (L, D) embedding of ``seq``, or None when it is not stored."""
        with self.env.begin(buffers=False) as txn:
            value = txn.get(make_key(model, layers, seq), db=self.emb)
        if value is None:
            return None
        stored, emb = decode(value)
        if stored != seq:
            raise StoreError(f"{self.path}: hash collision or corrupt entry for a {len(seq)}-residue sequence")
        return emb

    def entries(self, model: str | None = None, layers: str | None = None
                ) -> Iterator[tuple[str, str, str, np.ndarray]]:
        """(model, layers, sequence, embedding) for every entry, optionally filtered."""
        with self.env.begin() as txn:
            for key, value in txn.cursor(db=self.emb):
                m, l, _ = key.decode().split("\t")
                if (model is None or m == model) and (layers is None or l == layers):
                    seq, emb = decode(value)
                    yield m, l, seq, emb

    def sequences(self, model: str, layers: str) -> Iterator[str]:
        """Every stored sequence of one model and layer key (embeddings not read)."""
        prefix = f"{model}\t{layers}\t".encode()
        with self.env.begin(buffers=False) as txn:
            cursor = txn.cursor(db=self.emb)
            if not cursor.set_range(prefix):
                return
            for key, value in cursor:
                if not key.startswith(prefix):
                    break
                n_text = _HEADER.unpack_from(value)[3]
                yield bytes(value[_HEADER.size:_HEADER.size + n_text]).decode()

    def summary(self) -> list[StoreSummary]:
        out: dict[tuple[str, str], StoreSummary] = {}
        with self.env.begin() as txn:
            for key, value in txn.cursor(db=self.emb):
                m, l, _ = key.decode().split("\t")
                _, length, dim, _ = _HEADER.unpack_from(value)
                s = out.setdefault((m, l), StoreSummary(m, l, 0, 0, dim, 0))
                s.count += 1
                s.residues += length
                s.bytes += len(value)
        return sorted(out.values(), key=lambda s: (s.model, s.layers))
