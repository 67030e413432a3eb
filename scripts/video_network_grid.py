"""Summarise the stronger-network grid of issue 17 (classic benchmark, one fixed structure, classifier head ×
layout embedding × training seeds): test top-1 mean ± sd over seeds, and paired differences with 95 % bootstrap
intervals over the test videos (:func:`intergraph.video.arms.paired`: one resample for every seed).

Run: ``python scripts/video_network_grid.py RESULTS`` where RESULTS holds ``<config>_s<seed>/`` folders of
``intergraph video search --fixed ...`` (see that folder's ``run.sh``); writes ``RESULTS/summary.md`` and
``RESULTS/summary.json``."""
from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
from pathlib import Path

import numpy as np

from intergraph.video.arms import paired

PAIRS = [("temporal_layout", "mean_nolayout"), ("temporal_layout", "mean_layout"), ("mean_layout", "mean_nolayout"),
         ("temporal_nolayout", "mean_nolayout"), ("temporal_layout", "temporal_nolayout")]


def correct_of(run: Path) -> tuple[list[str], np.ndarray]:
    with open(run / "runs" / "derived" / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    return [r["video"] for r in rows], np.array([r["label"] == r["predicted"] for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path)
    root = ap.parse_args().results
    correct: dict[str, list[np.ndarray]] = {}
    videos = None
    for run in sorted(p for p in root.iterdir() if re.fullmatch(r".+_s\d+", p.name) and p.is_dir()):
        ids, ok = correct_of(run)
        if videos is not None and ids != videos:
            raise SystemExit(f"{run}: its test videos differ from the other runs'")
        videos = ids
        correct.setdefault(run.name.rsplit("_s", 1)[0], []).append(ok)
    rows = {name: [float(c.mean()) for c in cs] for name, cs in correct.items()}
    lines = ["| head, layout embedding | seeds | test top-1 (mean ± sd) | per seed |", "|---|---|---|---|"]
    for name, acc in rows.items():
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        lines.append(f"| {name} | {len(acc)} | {statistics.mean(acc):.3f} ± {sd:.3f} | "
                     f"{', '.join(f'{a:.3f}' for a in acc)} |")
    diffs = {}
    lines += ["", f"Paired differences (top-1 points, mean over seeds, 95 % bootstrap over the {len(videos)} test "
              "videos):", "", "| difference | mean | 95 % interval |", "|---|---|---|"]
    for a, b in PAIRS:
        if a in correct and b in correct and len(correct[a]) == len(correct[b]):
            m, lo, hi = paired(correct, a, b)
            diffs[f"{a} - {b}"] = [m, lo, hi]
            lines.append(f"| {a} − {b} | {100 * m:+.1f} | [{100 * lo:+.1f}, {100 * hi:+.1f}] |")
    (root / "summary.md").write_text("\n".join(lines) + "\n")
    (root / "summary.json").write_text(json.dumps({"top1": rows, "paired": diffs, "test_videos": len(videos)},
                                                  indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
