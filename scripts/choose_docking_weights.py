"""Choose the docking score's term weights on DB5.5 complexes outside the test split (EquiDock's split, bound
structures): each candidate weight vector is judged by the rank of the native funnel among the search's own best
poses under it (:func:`weights.funnel_rank`). One search pass per complex scores every candidate of a group.

Groups (named data below):
- ``base``: shape and shape + pair potential, chosen on training complexes;
- ``restraint``: shape + pair + interface restraints at several restraint weights (0 = shape + pair), chosen on the
  validation complexes with the probabilities of an interface run trained on the training split (``--interface
  RUN``: arm ``shape+pair+restraint``), or with the observed interface (``--interface truth``: arm
  ``shape+pair+restraint-oracle``, the weight for measuring what perfect interface prediction would give);
- ``coupling``: shape + pair + the interface coupling term (contacts between residues predicted at the interface on
  both sides) at several weights, with the restraint term off or at 1; chosen as ``restraint`` (arm
  ``shape+pair+interface``: the interface terms' weights chosen on validation, the default of ``protein dock
  --model``; ``shape+pair+interface-oracle`` with ``--interface truth``; ``shape+pair+interface-ownplm`` /
  ``-esm2_650m`` with a run of our own PLM / ESM-2: the default of ``protein dock --model`` for such runs).

The group's candidates, per-complex ranks and the chosen arms are written into
``intergraph/protein/resources/docking_weights_db5.json`` (``choices[GROUP]``; ``arms`` gets the chosen weights).
Search pools are cached under ``--cache``.

Run: ``python scripts/choose_docking_weights.py --group base --split train --complexes 20 --step 30`` or
``python scripts/choose_docking_weights.py --group restraint --split val --interface RUN --step 30``
(reads ``INTERGRAPH_DATA/db5``)."""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import time
from pathlib import Path

import torch

from intergraph.protein.db5 import DB5
from intergraph.protein.tasks.docking import restraints
from intergraph.protein.tasks.docking.grids import Body, GridSpec
from intergraph.protein.tasks.docking.potential import read
from intergraph.protein.tasks.docking.search import PLM_ARM_NAMES, WEIGHTS, SearchConfig
from intergraph.protein.tasks.docking.weights import Pool, complex_pools, funnel_rank, native_pose

SHAPE = {"shape": 1.0, "clash": -3.0}
PAIR = {**SHAPE, "pair": 5.0}
RESTRAINT_WEIGHTS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
GROUPS = {
    "base": {"shape": SHAPE, "shape+pair": PAIR},
    "restraint": {f"shape+pair+restraint{w:g}": {**PAIR, "restraint": w} for w in RESTRAINT_WEIGHTS},
    "coupling": {f"shape+pair+restraint{r:g}+coupling{w:g}": {**PAIR, "restraint": r, "coupling": w}
                 for r in (0.0, 1.0) for w in RESTRAINT_WEIGHTS},
}
SHIPPED_AS = {"base": None, "restraint": "shape+pair+restraint",   # the group's chosen arm is shipped under this name
              "coupling": "shape+pair+interface"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", choices=sorted(GROUPS), default="base")
    ap.add_argument("--split", choices=("train", "val"), default="train")
    ap.add_argument("--complexes", type=int, default=0, help="a seeded sample of the split (0: all)")
    ap.add_argument("--ids", default="", help="comma-separated complexes of the split (instead of a sample), e.g. "
                                              "those with ESM-2 embeddings")
    ap.add_argument("--interface", default="none", help="none, truth, or an interface run folder")
    ap.add_argument("--step", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("runs/docking_weight_pools"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    candidates = GROUPS[args.group]
    db5 = DB5(split=args.split)
    ids = sorted(db5.ids)
    if args.ids:
        asked = args.ids.split(",")
        outside = sorted(set(asked) - set(ids))
        if outside:
            raise SystemExit(f"--ids: {', '.join(outside)} not in the DB5.5 {args.split} split")
        ids = sorted(asked)
    elif args.complexes:
        ids = sorted(random.Random(args.seed).sample(ids, args.complexes))
    models, plm = None, "none"
    if args.interface not in ("none", "truth"):
        from intergraph.protein.run import load_models

        models = load_models(args.interface)
        plm = models[0].cfg.data.plm
    tag = hashlib.sha1(json.dumps([candidates, args.interface, args.step]).encode()).hexdigest()[:10]
    cache = args.cache / f"{args.group}-{tag}"
    cache.mkdir(parents=True, exist_ok=True)
    cfg = SearchConfig(step=args.step, grid=GridSpec())
    potential = read()
    ranks: dict[str, dict[str, int]] = {arm: {} for arm in candidates}
    for n, cid in enumerate(ids):
        t0 = time.time()
        path = cache / f"{cid}.pt"
        s = {r: db5.structure(cid, r, "b") for r in "rl"}   # the principal frames make the input pose irrelevant
        probs = (None, None)
        if args.interface == "truth":
            probs = restraints.observed(s["r"], s["l"])
        elif models is not None:
            probs = restraints.predicted(models, s["r"], s["l"])
        rec, lig = (Body.from_structure(s[r], p) for r, p in zip("rl", probs))
        native = native_pose(rec, lig)
        cached = [Pool(**c) for c in torch.load(path)] if path.exists() else None
        got = complex_pools(rec, lig, native, cfg, list(candidates.values()), potential, searched=cached)
        torch.save([{"terms": search.terms, "near": search.near} for search, _ in got], path)
        for (arm, w), (search, funnel) in zip(candidates.items(), got):
            ranks[arm][cid] = funnel_rank(search, funnel, w)
        print(f"[{n + 1}/{len(ids)}] {cid}: funnel rank " + ", ".join(f"{a} {ranks[a][cid]}" for a in ranks) +
              f" ({time.time() - t0:.0f} s)", flush=True)
    summary = {arm: {"median_rank": statistics.median(r.values()), "top10": sum(v <= 10 for v in r.values()),
                     "top1": sum(v == 1 for v in r.values())} for arm, r in ranks.items()}
    command = (f"python scripts/choose_docking_weights.py --group {args.group} --split {args.split} "
               + (f"--ids {args.ids} " if args.ids else f"--complexes {args.complexes} ")
               + f"--interface {args.interface} --step {args.step} --seed {args.seed}")
    choice = {"chosen_on": {"complexes": ids, "split": f"DB5.5 {args.split} (EquiDock)", "step": args.step,
                            "seed": args.seed, "pool": 300, "interface": args.interface,
                            "criterion": "rank of the native funnel among the search's best 300 poses (median over "
                                         "complexes, then complexes in the top 10)"},
              "command": command, "summary": summary, "ranks": ranks, "candidates": candidates}
    shipped, key = SHIPPED_AS[args.group], args.group
    if shipped is not None and args.interface == "truth":
        shipped += "-oracle"     # the weight for measuring the observed interface's restraints, beside the shipped
        key += "-truth"
    elif shipped is not None and plm in PLM_ARM_NAMES:
        shipped += f"-{PLM_ARM_NAMES[plm]}"   # chosen with a PLM run's probabilities: the default for such runs
        key += f"-{PLM_ARM_NAMES[plm]}"
    if shipped is None:
        choice["chosen"] = {arm: arm for arm in candidates}
    else:
        best = min(candidates, key=lambda a: (summary[a]["median_rank"], -summary[a]["top10"]))
        choice["chosen"] = {shipped: best}
    path = Path(__file__).resolve().parents[1] / "intergraph" / "protein" / "resources" / WEIGHTS
    table = json.loads(path.read_text())
    if models is not None:
        c = models[0].cfg
        choice["chosen_on"]["interface_run"] = {"encoder": c.model.encoder, "plm": c.data.plm, "split": "DB5.5 train"}
    table["choices"][key] = choice
    for arm, picked in choice["chosen"].items():
        table["arms"][arm] = candidates[picked]
    path.write_text(json.dumps(table, indent=2) + "\n")
    print(json.dumps({"summary": summary, "chosen": choice["chosen"]}, indent=2))


if __name__ == "__main__":
    main()
