"""Reference DockQ values from the `dockq` package (PyPI `dockq==2.1.3`, the reference implementation), for the
shipped DB5 test baselines whose partners are single chains. It pins numpy<2, so it runs in its own environment:

    python3 -m venv /tmp/dockq-venv && /tmp/dockq-venv/bin/pip install dockq==2.1.3
    /tmp/dockq-venv/bin/python scripts/dockq_reference.py ../shared/data/db5/docking_test \
        tests/protein/data/dockq_reference.json

tests/protein/test_docking_metrics.py checks intergraph's own DockQ (intergraph.protein.docking_metrics)
against the JSON written here. This script imports nothing from intergraph.
"""
import gzip
import json
import sys
import tempfile
from pathlib import Path

from DockQ.DockQ import load_PDB, run_on_all_native_interfaces

METHODS = ("attract", "cluspro", "equidock", "equidock_no_clashes", "hdock", "patchdock")


def atom_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as f:
        return [line for line in f if line.startswith(("ATOM", "HETATM"))]


def chains(lines: list[str]) -> list[str]:
    return sorted({line[21] for line in lines if line.startswith("ATOM")})


def merged(ligand: Path, receptor: Path, folder: Path) -> tuple[str, str, str]:
    lig, rec = atom_lines(ligand), atom_lines(receptor)
    out = folder / (ligand.name + ".merged.pdb")
    out.write_text("".join(rec) + "TER\n" + "".join(lig) + "END\n")
    return str(out), chains(lig), chains(rec)


def main(root: Path, out: Path) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "native").mkdir()
        for method in METHODS:
            for lig in sorted((root / "baselines" / method).glob("*_l_b_*.pdb.gz")):
                cid = lig.name[:4]
                rec = lig.with_name(lig.name.replace("_l_b_", "_r_b_"))
                rec = rec if rec.exists() else root / "complexes" / f"{cid}_r_b_COMPLEX.pdb.gz"
                model, ml, mr = merged(lig, rec, tmp)
                native, nl, nr = merged(root / "complexes" / f"{cid}_l_b_COMPLEX.pdb.gz",
                                        root / "complexes" / f"{cid}_r_b_COMPLEX.pdb.gz", tmp / "native")
                if len(nl) != 1 or len(nr) != 1:
                    continue  # DockQ scores chain pairs; multi-chain partners are compared as groups by us
                mapping = {nr[0]: mr[0], nl[0]: ml[0]}
                per, _ = run_on_all_native_interfaces(load_PDB(model), load_PDB(native), chain_map=mapping)
                (info,) = per.values()
                results[f"{method}/{cid}"] = {k: float(info[k]) for k in
                                              ("DockQ", "fnat", "iRMSD", "LRMSD", "nat_correct", "nat_total")}
    out.write_text(json.dumps(results, indent=1, sort_keys=True))
    print(f"{len(results)} decoys -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
