"""Readers: PDB, mmCIF (plain or gzip, detected by content) and Atom3D LMDB entries -> :class:`Structure`.

Every problem with a file surfaces as one :class:`StructureError` naming the file and the problem.
Only the first model of a multi-model file is read (the number of models is noted in the warnings).
"""
from __future__ import annotations

import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from .structure import AtomRecords, Structure, StructureError, build_structure

STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".ent.gz", ".cif.gz", ".mmcif.gz")


def is_structure_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith(STRUCTURE_SUFFIXES)


def read_bytes(path: str | Path) -> bytes:
    """File content, gunzipped when it is gzip (by magic number, not by name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StructureError(path, "file not found") from None
    except IsADirectoryError:
        raise StructureError(path, "is a directory, not a structure file") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise StructureError(path, f"truncated or corrupt gzip data ({e})") from None
    return raw


def read_structure(path: str | Path) -> Structure:
    """Read a PDB or mmCIF file (optionally gzipped); the format is recognised from the content."""
    path = Path(path)
    raw = read_bytes(path)
    if not raw.strip():
        raise StructureError(path, "empty file")
    if b"\x00" in raw[:65536]:
        raise StructureError(path, "binary data, not a PDB or mmCIF text file")
    text = raw.decode("latin-1")
    head = text.lstrip()[:200]
    if head.startswith("data_"):
        return parse_mmcif(text, path)
    if head.startswith(">"):
        raise StructureError(path, "looks like a FASTA file, not a structure (PDB or mmCIF)")
    return parse_pdb(text, path)


def _hybrid36(field: str) -> int:
    """Residue number of a 4-wide PDB field: decimal, or hybrid-36 beyond 9999 (A000 = 10000)."""
    field = field.strip()
    try:
        return int(field)
    except ValueError:
        pass
    if len(field) == 4 and field.isalnum() and field[0].isalpha():
        if field[0].isupper():
            return int(field, 36) - 10 * 36**3 + 10**4
        return int(field, 36) + 16 * 36**3 + 10**4
    raise ValueError(field)


def _column(block: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Fixed-width column of a (n, 80) uint8 line block as stripped Python strings."""
    return np.char.strip(block[:, start:stop].copy().view(f"S{stop - start}").ravel().astype(str))


def to_floats(values: np.ndarray, where: list[str] | np.ndarray, what: str, path: Path) -> np.ndarray:
    """``values`` as float64; the first unreadable one is a StructureError naming its line/row ``where``."""
    try:
        return values.astype(np.float64)
    except ValueError:
        for k, v in enumerate(values):
            try:
                float(v)
            except ValueError:
                text = v.decode().strip() if isinstance(v, bytes) else str(v)
                raise StructureError(path, f"{where[k]}: cannot read {what} {text!r}") from None
        raise


def _floats(block: np.ndarray, start: int, stop: int, lines: np.ndarray, what: str, path: Path,
            default: float | None = None) -> np.ndarray:
    col = block[:, start:stop].copy().view(f"S{stop - start}").ravel()
    if default is not None:
        col = np.where(np.char.strip(col) == b"", str(default).encode(), col)
    return to_floats(col, [f"line {n}" for n in lines], what, path)


def parse_pdb(text: str, path: str | Path = "<string>") -> Structure:
    """Parse PDB-format text with vectorised fixed-column slicing (first model only)."""
    path = Path(path)
    records: list[str] = []
    numbers: list[int] = []
    models = 0
    for k, line in enumerate(text.splitlines(), start=1):
        tag = line[:6]
        if tag == "ATOM  " or tag == "HETATM":
            records.append(line)
            numbers.append(k)
        elif tag == "MODEL ":
            models += 1
            if models > 1:
                break
        elif tag == "ENDMDL":
            if models == 0:  # ENDMDL without MODEL: still stop after the first model
                break
    if not records:
        raise StructureError(path, "no ATOM/HETATM records: not a PDB file, or a PDB file without coordinates")
    lines = np.asarray(numbers, dtype=np.int64)
    short = [i for i, r in enumerate(records) if len(r.rstrip()) < 54]
    if short:
        raise StructureError(path, f"line {lines[short[0]]}: truncated record {records[short[0]].rstrip()!r}")
    block = np.frombuffer(
        "".join(r[:80].ljust(80) for r in records).encode("latin-1"), dtype=np.uint8
    ).reshape(-1, 80)

    number_field = _column(block, 22, 26)
    try:
        number = number_field.astype(np.int64)
    except ValueError:
        number = np.empty(len(records), dtype=np.int64)
        for k, v in enumerate(number_field):
            try:
                number[k] = _hybrid36(v)
            except ValueError:
                raise StructureError(path, f"line {lines[k]}: cannot read residue number {v!r}") from None

    coord = np.stack([_floats(block, a, a + 8, lines, "coordinate", path) for a in (30, 38, 46)], axis=1)
    name = _column(block, 12, 16)
    element = np.char.upper(_column(block, 76, 78))
    missing = element == ""
    if missing.any():  # infer from the atom name: first letter after leading digits (e.g. 1HB -> H)
        element[missing] = [_element_from_name(n) for n in name[missing]]
    rec = AtomRecords(
        hetero=block[:, 0] == ord("H"),
        name=name,
        altloc=_column(block, 16, 17),
        resname=_column(block, 17, 20),
        chain=_column(block, 21, 22),
        number=number,
        icode=_column(block, 26, 27),
        coord=coord,
        occupancy=_floats(block, 54, 60, lines, "occupancy", path, default=1.0).astype(np.float32),
        b_factor=_floats(block, 60, 66, lines, "B-factor", path, default=0.0).astype(np.float32),
        element=element,
        line=lines,
    )
    warnings = [f"{models} or more models; only the first is read"] if models > 1 else []
    return build_structure(path, rec, warnings)


def _element_from_name(name: str) -> str:
    stripped = name.lstrip("0123456789")
    return stripped[:1].upper() if stripped else ""


_MMCIF_FIELDS = {
    "group": ("group_PDB",),
    "name": ("auth_atom_id", "label_atom_id"),
    "altloc": ("label_alt_id",),
    "resname": ("auth_comp_id", "label_comp_id"),
    "chain": ("auth_asym_id", "label_asym_id"),
    "number": ("auth_seq_id", "label_seq_id"),
    "icode": ("pdbx_PDB_ins_code",),
    "x": ("Cartn_x",),
    "y": ("Cartn_y",),
    "z": ("Cartn_z",),
    "occupancy": ("occupancy",),
    "b_factor": ("B_iso_or_equiv",),
    "element": ("type_symbol",),
    "model": ("pdbx_PDB_model_num",),
}
_REQUIRED = ("name", "resname", "chain", "number", "x", "y", "z")


def parse_mmcif(text: str, path: str | Path = "<string>") -> Structure:
    """Parse mmCIF text through gemmi's CIF tokenizer (author numbering and chain names preferred)."""
    import gemmi

    path = Path(path)
    try:
        doc = gemmi.cif.read_string(text)
        block = doc.sole_block() if len(doc) == 1 else doc[0]
    except (RuntimeError, ValueError, IndexError) as e:
        raise StructureError(path, f"malformed mmCIF ({e})") from None
    table = block.find_mmcif_category("_atom_site.")
    if len(table) == 0:
        raise StructureError(path, "mmCIF without an _atom_site table: no coordinates")
    tags = {t.split(".", 1)[1] for t in table.tags}
    cols: dict[str, np.ndarray] = {}
    for key, names in _MMCIF_FIELDS.items():
        for tag in names:
            if tag in tags:
                cols[key] = np.asarray(list(block.find_values("_atom_site." + tag)), dtype=object)
                break
    lost = [k for k in _REQUIRED if k not in cols]
    if lost:
        raise StructureError(path, f"mmCIF _atom_site lacks {', '.join(lost)}")
    n = len(cols["x"])
    rows = np.arange(1, n + 1)
    if "model" in cols:
        model = cols["model"]
        first = model == model[0]
        n_models = len(set(model.tolist()))
        rows = rows[first]
        cols = {k: v[first] for k, v in cols.items()}
        n = len(rows)
    else:
        n_models = 1

    def text_col(key: str, default: str = "") -> np.ndarray:
        if key not in cols:
            return np.full(n, default, dtype="<U1" if not default else f"<U{len(default)}")
        v = cols[key].astype(str)
        quoted = np.char.startswith(v, "'") | np.char.startswith(v, '"') | np.char.startswith(v, ";")
        if quoted.any():
            v = v.astype(object)
            v[quoted] = [gemmi.cif.as_string(s) for s in v[quoted]]
            v = v.astype(str)
        return np.where(np.isin(v, ["?", "."]), default, v)

    def float_col(key: str, default: float) -> np.ndarray:
        if key not in cols:
            return np.full(n, default)
        v = np.where(np.isin(cols[key], ["?", "."]), str(default), cols[key])
        return to_floats(v, [f"_atom_site row {r}" for r in rows], key, path)

    number_text = text_col("number")
    try:
        number = number_text.astype(np.int64)
    except ValueError:
        bad = next(k for k, s in enumerate(number_text) if not s.lstrip("-").isdigit())
        raise StructureError(path, f"_atom_site row {rows[bad]}: cannot read residue number "
                                   f"{number_text[bad]!r}") from None
    group = text_col("group", "ATOM")
    rec = AtomRecords(
        hetero=group == "HETATM",
        name=text_col("name"),
        altloc=text_col("altloc"),
        resname=text_col("resname"),
        chain=text_col("chain"),
        number=number,
        icode=text_col("icode"),
        coord=np.stack([float_col(a, np.nan) for a in "xyz"], axis=1),
        occupancy=float_col("occupancy", 1.0).astype(np.float32),
        b_factor=float_col("b_factor", 0.0).astype(np.float32),
        element=np.char.upper(text_col("element")),
        line=rows,
    )
    warnings = [f"{n_models} models; only the first is read"] if n_models > 1 else []
    return build_structure(path, rec, warnings)


# --------------------------------------------------------------------------------------------- Atom3D
def atom3d_entries(path: str | Path) -> Iterator[tuple[int, dict | None]]:
    """(index, entry) of every entry of an Atom3D LMDB data set, ``None`` for an index the database lacks.

    The database is opened read-only and without a lock file, so read-only folders work. Values are
    gzip-compressed JSON (Atom3D's ``json`` serialization)."""
    import lmdb

    path = Path(path)
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, subdir=path.is_dir(), readahead=False)
    except lmdb.Error as e:
        raise StructureError(path, f"not an LMDB data set ({e})") from None
    with env, env.begin(write=False) as txn:
        fmt = txn.get(b"serialization_format")
        if fmt is not None and fmt.decode() != "json":
            raise StructureError(path, f"unsupported Atom3D serialization {fmt.decode()!r} (only json)")
        count = txn.get(b"num_examples")
        if count is None:
            raise StructureError(path, "LMDB without num_examples: not an Atom3D data set")
        for i in range(int(count)):
            raw = txn.get(str(i).encode())
            if raw is None:
                yield i, None
                continue
            try:
                yield i, json.loads(gzip.decompress(raw))
            except (OSError, EOFError, json.JSONDecodeError) as e:
                raise StructureError(path, f"entry {i}: not gzip-compressed JSON ({e})") from None


def read_atom3d_lmdb(path: str | Path) -> Iterator[tuple[str, Structure, dict]]:
    """Yield (id, structure, entry) for each entry of an Atom3D LMDB data set; the ``atoms`` table in pandas
    "split" layout is read without pandas, ``entry`` holds the remaining fields (label, types, file_path...)."""
    path = Path(path)
    for i, item in atom3d_entries(path):
        if item is None:
            raise StructureError(path, f"entry {i} is missing although num_examples counts it")
        item_id = str(item.get("id", i))
        atoms_key = "atoms" if "atoms" in item else next((k for k in item if k.startswith("atoms")), None)
        if atoms_key is None:
            raise StructureError(path, f"entry {i} ({item_id}) has no atoms table")
        structure = atom3d_atoms_to_structure(item[atoms_key], f"{path}#{item_id}")
        rest = {k: v for k, v in item.items() if k != atoms_key}
        yield item_id, structure, rest


def atom3d_atoms_to_structure(table: dict, source: str) -> Structure:
    """Convert an Atom3D atoms table (pandas "split" dict: columns, data) into a Structure (first model)."""
    try:
        columns = table["columns"]
        data = table["data"]
    except (KeyError, TypeError):
        raise StructureError(source, "atoms table is not in pandas 'split' layout") from None
    if not data:
        raise StructureError(source, "no atoms")
    col = {c: i for i, c in enumerate(columns)}
    need = ("chain", "hetero", "insertion_code", "residue", "resname", "altloc", "x", "y", "z", "element", "name")
    lost = [c for c in need if c not in col]
    if lost:
        raise StructureError(source, f"atoms table lacks {', '.join(lost)}")
    arr = list(zip(*data))

    def get(c):
        return np.asarray(arr[col[c]])

    first = np.ones(len(data), dtype=bool)
    warnings = []
    for level in ("ensemble", "model"):
        if level in col:
            values = get(level)
            first &= values == values[0]
            if len(set(values.tolist())) > 1:
                warnings.append(f"{len(set(values.tolist()))} {level}s; only the first is read")
    hetero_field = get("hetero").astype(str)
    occupancy = get("occupancy").astype(np.float32) if "occupancy" in col else np.ones(len(data), np.float32)
    bfac = get("bfactor").astype(np.float32) if "bfactor" in col else np.zeros(len(data), np.float32)
    rec = AtomRecords(
        # Biopython-style hetero flag: " " for standard residues, "H_XXX" for hetero, "W" for water
        hetero=np.char.strip(hetero_field) != "",
        name=np.char.strip(get("name").astype(str)),
        altloc=np.char.strip(get("altloc").astype(str)),
        resname=np.char.strip(get("resname").astype(str)),
        chain=np.char.strip(get("chain").astype(str)),
        number=get("residue").astype(np.int64),
        icode=np.char.strip(get("insertion_code").astype(str)),
        coord=np.stack([get(a).astype(np.float64) for a in "xyz"], axis=1),
        occupancy=occupancy,
        b_factor=bfac,
        element=np.char.upper(np.char.strip(get("element").astype(str))),
        line=np.arange(1, len(data) + 1),
    )
    rec = AtomRecords(**{k: v[first] for k, v in rec.__dict__.items()})
    return build_structure(source, rec, warnings)


def structure_to_pdb(structure: Structure) -> str:
    """Write a structure as PDB text (for round trips and for exporting predictions)."""
    out = io.StringIO()
    serial = 0
    prev_chain = None
    for r in range(structure.n_residues):
        chain = str(structure.res_chain[r])
        if prev_chain is not None and chain != prev_chain:
            out.write("TER\n")
        prev_chain = chain
        tag = "HETATM" if structure.res_hetero[r] else "ATOM  "
        for a in range(*structure.atom_slice(r).indices(structure.n_atoms)):
            serial += 1
            name = str(structure.atom_name[a])
            padded = f" {name:<3}" if len(name) < 4 and len(structure.element[a]) == 1 else f"{name:<4}"
            x, y, z = structure.coord[a]
            out.write(
                f"{tag}{serial % 100000:5d} {padded} {structure.res_name[r]:>3} {chain[:1]:1}"
                f"{int(structure.res_number[r]) % 10000:4d}{structure.res_icode[r]:1}   "
                f"{x:8.3f}{y:8.3f}{z:8.3f}{structure.occupancy[a]:6.2f}{structure.b_factor[a]:6.2f}"
                f"          {structure.element[a]:>2}\n"
            )
    out.write("END\n")
    return out.getvalue()
