"""Fit the docking pair potential on the DB5.5 training complexes (EquiDock's split, bound structures) and write
``intergraph/protein/resources/pair_potential_db5_train.tsv``. Run: ``python scripts/fit_pair_potential.py``
(reads ``INTERGRAPH_DATA/db5``)."""
from __future__ import annotations

from pathlib import Path

from intergraph.protein.db5 import DB5
from intergraph.protein.tasks.docking.grids import Body
from intergraph.protein.tasks.docking.potential import SHIPPED, fit, write


def main() -> None:
    db5 = DB5(split="train")
    pairs = [(Body.from_structure(db5.structure(c, "r", "b")), Body.from_structure(db5.structure(c, "l", "b")))
             for c in db5.ids]
    table = fit(pairs)
    out = Path(__file__).resolve().parents[1] / "intergraph" / "protein" / "resources" / SHIPPED
    write(table, out, f"Residue-pair contact log-odds (centroids within 6 A), pseudocount 1.\n"
                      f"Fitted on the {len(pairs)} DB5.5 training complexes (EquiDock split), bound structures,\n"
                      f"by scripts/fit_pair_potential.py.")
    print(f"{out}: {len(pairs)} complexes")


if __name__ == "__main__":
    main()
