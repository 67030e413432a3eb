"""Two-partner complexes from wherever they are, and how they are split.

Sources (:func:`read_pairs`):

- a folder of pairs: ``<id>_r[_TAG].<ext>`` and ``<id>_l[_TAG].<ext>`` (``ext``: pdb, ent, cif, mmcif, each
  optionally ``.gz``). The first token of TAG names the form, ``b`` (bound, the default) or ``u``
  (unbound), so DB5.5 (``1AVX_r_b.pdb.gz``, ``1AVX_r_u.pdb.gz``) and EquiDock's DIPS layout
  (``a9_1a95.pdb1_3_r_b_COMPLEX.pdb``) read as they are. A folder holding ``structures/`` (and optionally
  ``splits/{train,val,test}.txt``, one id per line) is read as the DB5.5 layout; ``db5`` names the shared copy.
- a CSV with the columns ``id,receptor,ligand`` and optionally ``split`` (train / val / test); paths are
  relative to the CSV's folder.

Files that fit no pair are reported in ``PairSource.skipped``, never silently dropped.

Splits (:func:`split_ids`) keep *duplicate groups* on one side: complexes whose partners have the same
sequences (either role; chains compared as sequences, one may be a terminal truncation of the other), and
complexes that share a partner's coordinates (cut from the same crystal structure, such as DB5's renamed
copies BAAD/3AAD or 9QFW/1QFW). :func:`renamed_copies` finds the complexes that are both (the same complex
twice), which pools drop with a message.
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingError
from ..graph.components import Components

ROLES = ("r", "l")
FORMS = ("b", "u")
SPLITS = ("train", "val", "test")
_NAME = re.compile(r"^(?P<id>.+)_(?P<role>[rl])(?P<tag>(?:_[A-Za-z0-9]+)*)\.(?:pdb|ent|cif|mmcif)(?:\.gz)?$",
                   re.IGNORECASE)


@dataclass
class Pair:
    """One complex: its structure files by (role, form)."""

    id: str
    files: dict[tuple[str, str], Path] = field(default_factory=dict)

    def file(self, role: str, form: str = "b") -> Path:
        try:
            return self.files[(role, form)]
        except KeyError:
            have = ", ".join(f"{r}_{f}" for r, f in sorted(self.files)) or "none"
            raise MissingError(f"complex {self.id}: no {'receptor' if role == 'r' else 'ligand'} file of form "
                               f"{form!r} ({'bound' if form == 'b' else 'unbound'}); files: {have}") from None


@dataclass
class PairSource:
    """The complexes of one source, its own split lists (empty when it has none) and what was skipped."""

    root: Path
    pairs: dict[str, Pair]
    splits: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return sorted(self.pairs)

    @property
    def name(self) -> str:
        return self.root.stem if self.root.is_file() else self.root.name


def _resolve(source: str | Path) -> Path:
    if str(source) == "db5":
        from ..data import dataset_path

        return dataset_path("db5")
    path = Path(source).expanduser()
    if not path.exists():
        raise MissingError(f"{path}: no such folder or CSV of complexes")
    return path


def read_pairs(source: str | Path) -> PairSource:
    """The pairs of ``source``: ``db5``, a folder (DB5.5 layout, a folder of pairs, DIPS layout) or a CSV."""
    root = _resolve(source)
    if root.is_file():
        return _from_csv(root)
    folder = root / "structures" if (root / "structures").is_dir() else root
    out = _from_folder(folder)
    out.root = root
    lists = root / "splits"
    if lists.is_dir():
        for split in SPLITS:
            f = lists / f"{split}.txt"
            if f.exists():
                ids = [line.strip() for line in f.read_text().splitlines() if line.strip()]
                missing = [i for i in ids if i not in out.pairs]
                if missing:
                    raise InputError(f"{f}: names complexes without structures: {', '.join(missing[:5])}")
                out.splits[split] = ids
    return out


def _from_folder(folder: Path) -> PairSource:
    pairs: dict[str, Pair] = {}
    skipped: list[tuple[str, str]] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        m = _NAME.match(path.name)
        if not m:
            if not path.name.startswith(".") and path.suffix.lower() not in (".txt", ".md", ".csv", ".json"):
                skipped.append((str(path), "name is not <id>_r|l[_TAG].pdb|cif[.gz]"))
            continue
        tag = [t for t in m["tag"].split("_") if t]
        form = tag[0].lower() if tag and tag[0].lower() in FORMS else "b"
        pair = pairs.setdefault(m["id"], Pair(m["id"]))
        key = (m["role"].lower(), form)
        if key in pair.files:
            raise InputError(f"{folder}: two {'receptor' if key[0] == 'r' else 'ligand'} files of form {form!r} for "
                             f"complex {m['id']}: {pair.files[key].name} and {path.name}")
        pair.files[key] = path
    complete = {}
    for cid, pair in sorted(pairs.items()):
        roles = {r for r, _ in pair.files}
        if roles == set(ROLES):
            complete[cid] = pair
        else:
            for p in pair.files.values():
                skipped.append((str(p), f"complex {cid} has no {'ligand' if 'r' in roles else 'receptor'} file"))
    if not complete:
        raise InputError(f"{folder}: no complex found (expected <id>_r*.pdb[.gz] and <id>_l*.pdb[.gz] pairs"
                         + (f"; {len(skipped)} files did not fit" if skipped else "") + ")")
    return PairSource(folder, complete, {}, skipped)


def _from_csv(path: Path) -> PairSource:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"id", "receptor", "ligand"}
    if not rows or not need <= set(rows[0]):
        raise InputError(f"{path}: a CSV of complexes needs the columns id,receptor,ligand[,split]")
    pairs, splits, skipped = {}, {}, []
    for n, row in enumerate(rows, start=2):
        cid = (row["id"] or "").strip()
        if not cid:
            skipped.append((f"{path}:{n}", "no id"))
            continue
        if cid in pairs:
            raise InputError(f"{path}:{n}: complex {cid} listed twice")
        files = {}
        for role, column in (("r", "receptor"), ("l", "ligand")):
            f = Path(row[column].strip()).expanduser()
            files[(role, "b")] = f if f.is_absolute() else path.parent / f
        absent = [str(f) for f in files.values() if not f.exists()]
        if absent:
            skipped.append((f"{path}:{n}", f"complex {cid}: no such file {', '.join(absent)}"))
            continue
        split = (row.get("split") or "").strip().lower()
        if split and split not in SPLITS:
            raise InputError(f"{path}:{n}: split {split!r}; use train, val or test")
        pairs[cid] = Pair(cid, files)
        if split:
            splits.setdefault(split, []).append(cid)
    if not pairs:
        raise InputError(f"{path}: no usable complex ({len(skipped)} rows skipped: {skipped[:3]})")
    return PairSource(path, pairs, splits, skipped)


# --- duplicates ------------------------------------------------------------------------------------------

def fingerprint(receptor, ligand) -> dict:
    """What duplicate detection compares, from the two partner graphs: chain sequences and a hash of the Cα
    coordinates (rounded to 0.01 Å) of each partner."""
    out = {}
    for role, g in (("r", receptor), ("l", ligand)):
        xyz = np.round(g.pos.double().numpy(), 2).tobytes()
        out[role] = {"chains": [str(s) for s in g.chain_sequences], "coords": hashlib.sha1(xyz).hexdigest()}
    return out


def _same_chain(a: str, b: str) -> bool:
    short, long_ = sorted((a, b), key=len)
    return bool(short) and short in long_ and len(short) >= 0.9 * len(long_)


def _same_partner(a: list[str], b: list[str]) -> bool:
    """Same chains as sequences (any order; one may be a terminal truncation of the other)."""
    if len(a) != len(b):
        return False
    left = list(b)
    for s in a:
        hit = next((k for k, t in enumerate(left) if _same_chain(s, t)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def _same_sequences(x: dict, y: dict) -> bool:
    direct = _same_partner(x["r"]["chains"], y["r"]["chains"]) and _same_partner(x["l"]["chains"], y["l"]["chains"])
    swapped = _same_partner(x["r"]["chains"], y["l"]["chains"]) and _same_partner(x["l"]["chains"], y["r"]["chains"])
    return direct or swapped


def _shared_coordinates(x: dict, y: dict) -> bool:
    return bool({x["r"]["coords"], x["l"]["coords"]} & {y["r"]["coords"], y["l"]["coords"]})


def duplicate_groups(prints: dict[str, dict]) -> dict[str, str]:
    """Complex id -> its group's first id: connected components of "same sequences" or "shared partner
    coordinates" (see the module docstring). Singletons map to themselves."""
    ids = sorted(prints)
    components = Components(ids)
    by_coords: dict[str, list[str]] = {}
    for i in ids:
        for role in ROLES:
            by_coords.setdefault(prints[i][role]["coords"], []).append(i)
    for members in by_coords.values():
        for other in members[1:]:
            components.join(members[0], other)
    # same sequences imply total lengths within 10 %: compare neighbours in length order only
    length = {i: sum(len(s) for r in ROLES for s in prints[i][r]["chains"]) for i in ids}
    order = sorted(ids, key=length.get)
    for k, a in enumerate(order):
        for b in order[k + 1:]:
            if length[b] > length[a] / 0.9:
                break
            if not components.same(a, b) and _same_sequences(prints[a], prints[b]):
                components.join(a, b)
    return components.names()


def renamed_copies(prints: dict[str, dict], prefer: set[str] = frozenset()) -> dict[str, str]:
    """Complexes that repeat another one (same sequences and a shared partner's coordinates): copy -> the id
    kept (one in ``prefer`` when possible, else the first in sorted order)."""
    ids = sorted(prints, key=lambda i: (i not in prefer, i))
    kept: list[str] = []
    out = {}
    for i in ids:
        twin = next((k for k in kept if _shared_coordinates(prints[i], prints[k])
                     and _same_sequences(prints[i], prints[k])), None)
        if twin is None:
            kept.append(i)
        else:
            out[i] = twin
    return out


# --- splits ----------------------------------------------------------------------------------------------

def _grouped(pool: list[str], groups: dict[str, str] | None, seed: int) -> list[list[str]]:
    """The pool as groups (a group of duplicates stays together) in a seeded random order."""
    members: dict[str, list[str]] = {}
    for i in sorted(pool):
        members.setdefault((groups or {}).get(i, i), []).append(i)
    order = np.random.default_rng(seed).permutation(len(members))
    keys = sorted(members)
    return [members[keys[k]] for k in order]


def _take(groups: list[list[str]], n: int) -> tuple[list[str], list[list[str]]]:
    """Whole groups from the front until at least ``n`` complexes (at least one group)."""
    taken: list[str] = []
    k = 0
    while k < len(groups) and (len(taken) < n or not taken):
        taken += groups[k]
        k += 1
    return taken, groups[k:]


def kfold_parts(pool: list[str], folds: int, seed: int = 0, groups: dict[str, str] | None = None) -> list[list[str]]:
    """``folds`` disjoint parts covering the pool; groups stay whole; each group goes to the part that holds
    the fewest complexes so far (groups in seeded random order)."""
    if folds < 2:
        raise InputError(f"k-fold needs at least 2 folds, not {folds}")
    grouped = _grouped(pool, groups, seed)
    if len(grouped) < folds:
        raise InputError(f"{len(grouped)} groups of complexes cannot fill {folds} folds")
    parts: list[list[str]] = [[] for _ in range(folds)]
    for g in grouped:
        min(parts, key=len).extend(g)
    return [sorted(p) for p in parts]


def split_ids(pool: list[str], how: str, given: dict[str, list[str]] | None = None,
              groups: dict[str, str] | None = None, folds: int = 5, fold: int | None = 0, seed: int = 0,
              val_fraction: float = 0.1, test_fraction: float = 0.2) -> dict[str, list[str]]:
    """Train / val / test ids of ``pool``.

    ``given``: the source's own lists (restricted to the pool; without a val list, a ``val_fraction`` of train, by
    whole groups, validates). ``kfold``: part ``fold`` of
    :func:`kfold_parts` is the test set, a ``val_fraction`` of the rest (whole groups) validates. ``random``:
    ``test_fraction`` and ``val_fraction`` of the pool by whole groups. ``test``: everything is test data
    (evaluation of a trained model). Deterministic in (pool, how, seed, folds, fold, groups)."""
    pool = sorted(set(pool))
    if how == "given":
        if not given:
            raise InputError("the source has no split lists (splits/*.txt or a split column): use split random "
                             "or kfold")
        inside = set(pool)
        out = {s: [i for i in given.get(s, []) if i in inside] for s in SPLITS}
        if not out["val"] and out["train"] and val_fraction > 0:  # lists without val: validate on part of train
            val, rest = _take(_grouped(out["train"], groups, seed), int(round(val_fraction * len(out["train"]))))
            out["val"], out["train"] = sorted(val), sorted(i for g in rest for i in g)
        return out
    if how == "test":
        return {"train": [], "val": [], "test": pool}
    if how == "kfold":
        if fold is None or not 0 <= fold < folds:
            raise InputError(f"fold {fold} of a {folds}-fold split")
        parts = kfold_parts(pool, folds, seed, groups)
        test = parts[fold]
        rest = [i for i in pool if i not in set(test)]
        val, train_groups = _take(_grouped(rest, groups, seed + 1), int(round(val_fraction * len(rest))))
        return {"train": sorted(i for g in train_groups for i in g), "val": sorted(val), "test": test}
    if how == "random":
        grouped = _grouped(pool, groups, seed)
        test, grouped = _take(grouped, int(round(test_fraction * len(pool))))
        val, grouped = _take(grouped, int(round(val_fraction * len(pool))))
        return {"train": sorted(i for g in grouped for i in g), "val": sorted(val), "test": sorted(test)}
    raise InputError(f"split must be given, random, kfold or test, not {how!r}")
