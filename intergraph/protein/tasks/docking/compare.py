"""Paired comparison of finished docking benchmarks: the same search on the same inputs, each folder with its own
interface source (no PLM, our own PLM, ESM-2 650M, the observed interface).

Folders are compared only where their search settings and inputs are equal (an error names the folder and the
keys that differ). Arms with interface terms are named ``ARM [LABEL]`` by the folder's label; arms without them
give the same poses in every folder, so they are taken from the first folder that holds them; the shipped
methods likewise. Every arm is measured on the complexes all folders hold (the ESM-2 arm, for instance, exists
for 7 of the 25 test complexes), so its rates are paired; differences against ``base`` are paired bootstraps
over those complexes (:func:`benchmark.paired_success`).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ....errors import InputError
from ....train.config import differences
from .benchmark import SHIPPED, paired_success, success_table
from .grids import uses_interface

SAME = ("inputs", "search", "top")  # what every folder of a comparison must share


def read_benchmark(folder: str | Path) -> tuple[dict, list[dict]]:
    """A finished benchmark folder's ``config.json`` and ``rows.csv`` rows (numbers as floats)."""
    folder = Path(folder)
    for name in ("config.json", "rows.csv"):
        if not (folder / name).exists():
            raise InputError(f"{folder}: no {name} (not a finished `protein dock-benchmark` folder)")
    config = json.loads((folder / "config.json").read_text())
    with open(folder / "rows.csv") as f:
        rows = [{k: (v if k in ("complex", "arm") else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]
    return config, rows


def merge(benchmarks: dict[str, str | Path], arms: list[str] | None = None) -> tuple[list[dict], list[str], dict]:
    """Rows of every folder (``label -> folder``) on the complexes all of them hold, arms renamed as the module
    says; (rows, common complexes, the shared settings). ``arms``: arm names to keep (default: each arm as its
    folder ranked it, without the "ARM, by size|score" alternates), the shipped methods always kept."""
    if not benchmarks:
        raise InputError("no benchmark folder to compare")
    shared, per_folder = None, {}
    first = None
    for label, folder in benchmarks.items():
        config, rows = read_benchmark(folder)
        settings = {k: config.get(k) for k in SAME}
        if shared is None:
            shared, first = settings, folder
        elif settings != shared:
            why = "; ".join(differences(shared, settings)[:4])
            raise InputError(f"{folder}: made with other search settings or inputs than {first} ({why}); only the "
                             "same search is compared")
        per_folder[label] = (config, rows)
    common = set.intersection(*({r["complex"] for r in rows if r["arm"] not in SHIPPED}
                                for _, rows in per_folder.values()))
    if not common:
        raise InputError(f"no complex that every folder holds: {', '.join(map(str, benchmarks.values()))}")
    out, owner = [], {}
    for label, (config, rows) in per_folder.items():
        weights = config.get("arms", {})
        for r in rows:
            arm = r["arm"]
            if r["complex"] not in common:
                continue
            if arm in SHIPPED:
                name = arm
            else:
                base = arm.split(", by ")[0].removesuffix(" + QA")
                if base not in weights:
                    raise InputError(f"{benchmarks[label]}: arm {arm!r} of rows.csv is not in its config.json")
                if arms is not None and arm not in arms or arms is None and ", by " in arm:
                    continue
                name = f"{arm} [{label}]" if uses_interface(weights[base]) else arm
            if owner.setdefault(name, label) != label:
                continue  # the same arm from an earlier folder
            out.append({**r, "arm": name})
    missing = sorted(set(arms or ()) - {r["arm"] for _, rows in per_folder.values() for r in rows})
    if missing:
        raise InputError(f"--arms: {', '.join(missing)} in no folder of the comparison")
    return out, sorted(common), shared


def compare(benchmarks: dict[str, str | Path], base: str | None = None, arms: list[str] | None = None,
            ns=(1, 5, 10)) -> dict:
    """The comparison's rows, table (:func:`benchmark.success_table`) and paired differences of every arm of
    ours against ``base`` (default: the first) at top N, DockQ ≥ 0.23."""
    rows, common, shared = merge(benchmarks, arms)
    ours = [a for a in dict.fromkeys(r["arm"] for r in rows) if a not in SHIPPED]
    base = base or ours[0]
    if base not in ours:
        raise InputError(f"--base {base!r}: not an arm of the comparison ({', '.join(ours)})")
    paired = [paired_success(rows, a, base, n) for a in ours if a != base for n in ns]
    return {"benchmarks": {k: str(v) for k, v in benchmarks.items()}, "settings": shared, "complexes": common,
            "base": base, "table": success_table(rows), "paired": paired, "rows": rows}


def summary_lines(result: dict) -> list[str]:
    """A markdown table (rates with 95 % intervals) and the paired differences."""
    n = len(result["complexes"])
    settings = result["settings"]
    lines = [f"{n} complexes held by every folder, {settings['inputs']} inputs, step {settings['search']['step']}°",
             "", "| arm | top-1 ≥ 0.23 | top-5 | top-10 | top-1 ≥ 0.49 | median top-1 DockQ |",
             "|---|---|---|---|---|---|"]
    for arm, t in result["table"].items():
        r1 = t["success@1_0.23"]
        lines.append(f"| {arm} | {r1['rate']:.2f} [{r1['ci'][0]:.2f}, {r1['ci'][1]:.2f}] | "
                     f"{t['success@5_0.23']['rate']:.2f} | {t['success@10_0.23']['rate']:.2f} | "
                     f"{t['success@1_0.49']['rate']:.2f} | {t['top1_dockq_median']:.3f} |")
    lines += ["", f"Paired differences against {result['base']} (success, DockQ ≥ 0.23; 95 % bootstrap over "
              "complexes):", "", "| arm | top-1 | top-5 | top-10 |", "|---|---|---|---|"]
    by_arm: dict[str, dict] = {}
    for p in result["paired"]:
        by_arm.setdefault(p["arm"], {})[p["n"]] = p
    for arm, d in by_arm.items():
        lines.append(f"| {arm} | " + " | ".join(f"{d[n]['difference']:+.2f} [{d[n]['ci'][0]:+.2f}, "
                                                  f"{d[n]['ci'][1]:+.2f}]" for n in sorted(d)) + " |")
    return lines
