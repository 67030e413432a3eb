"""The arms that can show what adaptive structures are for, on a benchmark whose videos come in groups (the
``families`` synthetic benchmark): every arm trained on the same node features, splits and seeds.

Non-adaptive arms: the best single operation as a fixed structure (chosen on validation top-1), DARTS' derived
global structure retrained from scratch, a fixed structure with a different operation on every edge, and the
uniform mixture of every candidate (softmax kept at test: the capacity-matched reference). Reference arms:
oracle routing with each group's hand-chosen structure (:data:`.families.FAMILIES`), first trained as many
epochs as the adaptive arm's warm-up on the uniform mixture of the routes' operations (so an operation routed to
one group alone is not starved of updates from the start); oracle routing with the structure that reads each
group's validation videos best (every single operation and the uniform mixture, trained on all videos, and the
group's hand-chosen route), with or without that warm-up, whichever reads validation best; and the per-group
expert: each group read by the whole trained network (non-adaptive or routed) that reads its validation videos
best (a gate over separately trained networks).
Adaptive arms (one search run): softmax weights at test, the argmax structure at test (the paper's protocol),
the argmax structure after derived fine-tuning, and shuffled routing (each test video gets the argmax structure
of a video of another group: the gain should vanish). Reported: top-1 per arm, mean ± sd over seeds, per group; paired
differences with 95 % bootstrap intervals over test videos (one resample shared by all seeds); the
normalised mutual information between derived structure and group; the usage of operations by group.
"""
from __future__ import annotations

import copy
import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..search.cell import ZERO
from ..search.structure import Structure
from ..train.config import TrainConfig
from ..train.search import SearchConfig
from .experiment import (
    VideoDataConfig,
    VideoSearchRun,
    derived_tuning,
    fixed_run,
    loader,
    structure_usage,
    synthetic_features,
    train_run,
)
from .experiment import recipe as recipe_of
from .features import FeatureSet
from .model import MIXTURE, InteractionModel, VideoModelConfig
from .synthetic import SyntheticConfig

NON_ADAPTIVE = ("best fixed op", "darts derived", "mixed edges", "uniform mixture")
ADAPTIVE = ("adaptive, softmax at test", "adaptive, argmax at test", "adaptive + derived", "shuffled routing")
ORACLES = ("oracle routing", "oracle routing, chosen on validation", "per-group expert, chosen on validation")
ARMS = NON_ADAPTIVE + ORACLES + ADAPTIVE
HAND = "hand-chosen"  # the oracle from validation picked a group's hand-chosen route


def arms_run(videos: int = 1800, data_seed: int = 0, epochs: int = 18, batch_size: int = 16, width: int = 128,
             recipe: str = "ours", head: str = "mean", layout_embedding: bool = False, ops: str | None = None,
             lr: float | None = None, structure_lr: float | None = None, warmup: int | None = None
             ) -> VideoSearchRun:
    """The base configuration of the arms on the families benchmark: the named ``recipe`` (see
    :data:`.experiment.RECIPES`) with the given settings over it; fixed epochs (no early stop), the best
    validation epoch tested."""
    model, search = recipe_of(recipe, dict(ops=ops), dict(weight_lr=lr, structure_lr=structure_lr,
                                                          warmup_epochs=warmup))
    return VideoSearchRun(
        data=VideoDataConfig(videos=videos, synthetic=SyntheticConfig(seed=data_seed, benchmark="families")),
        model=VideoModelConfig(width=width, head=head, layout_embedding=layout_embedding, **model),
        train=TrainConfig(max_epochs=epochs, batch_size=batch_size, monitor="val/top1", mode="max",
                          early_stop_patience=epochs),
        search=SearchConfig(**search))


def command_of(base: VideoSearchRun, out: Path, seeds: list[int], recipe: str) -> str:
    """The ``intergraph video arms`` command line that rebuilds ``base`` (every setting spelled out)."""
    m, s, t = base.model, base.search, base.train
    return (f"intergraph video arms --out {out} --videos {base.data.videos} --seeds {','.join(map(str, seeds))} "
            f"--data-seed {base.data.synthetic.seed} --epochs {t.max_epochs} --batch-size {t.batch_size} "
            f"--width {m.width} --recipe {recipe} --ops {m.ops} --lr {s.weight_lr} --structure-lr {s.structure_lr} "
            f"--warmup {s.warmup_epochs} --head {m.head}" + (" --layout-embedding" if m.layout_embedding else ""))


def mixed_edges(ops: list[str], steps: int, cells: int) -> Structure:
    """A fixed structure with the candidates (``zero`` excluded) assigned to the edges in turn."""
    names = [o for o in ops if o != ZERO]
    n = len(Structure.uniform(names[0], steps).cells[0])
    return Structure(steps, [[names[e % len(names)] for e in range(n)] for _ in range(cells)])


def training_runs(base: VideoSearchRun, oracle: list[Structure]) -> dict[str, VideoSearchRun]:
    """The configurations trained from scratch for one seed (derived arms are trained from these)."""
    from .ops import candidates

    ops = candidates(base.model.ops)
    runs = {}

    def variant(structure: str, mode: str, **model) -> VideoSearchRun:
        run = copy.deepcopy(base)
        run.model.structure, run.search.mode = structure, mode
        for k, v in model.items():
            setattr(run.model, k, v)
        return run

    for op in ops:
        if op != ZERO:
            runs[f"fixed:{op}"] = variant("fixed", "fixed", fixed=Structure.uniform(op, base.model.steps,
                                                                                   base.model.cells).to_dict())
    runs["mixed edges"] = variant("fixed", "fixed",
                                  fixed=mixed_edges(ops, base.model.steps, base.model.cells).to_dict())
    runs["uniform mixture"] = variant("mixture", "fixed")
    runs["oracle routing"] = variant("routed", "fixed", routes=[s.to_dict() for s in oracle],
                                     shared_epochs=base.search.warmup_epochs)
    runs["darts"] = variant("global", "darts1")
    runs["adaptive"] = variant("adaptive", "alternate")
    return runs


@torch.no_grad()
def predict(model: InteractionModel, fs: FeatureSet, protocol: str = "argmax", seed: int = 0) -> np.ndarray:
    """Predicted label of every video of ``fs``. Protocols for searched models: ``argmax`` (each video's derived
    structure), ``softmax`` (its mixture weights), ``shuffled`` (the derived structure of a random video of
    another group)."""
    model.eval()
    if protocol not in ("argmax", "softmax", "shuffled"):
        raise InputError(f"protocol must be argmax, softmax or shuffled, not {protocol!r}")
    if protocol != "shuffled":
        return torch.cat([model(g, derive_structure=protocol == "argmax" and model.searchable).logits.argmax(1)
                          for g, _ in loader(fs, 64)]).numpy()
    groups = fs.groups()
    if groups is None or model.predictor is None:
        raise InputError("shuffled routing needs a searched model and videos with groups")
    weights = torch.cat([model.structure_of(g, derive=True) for g, _ in loader(fs, 64)])
    rng = np.random.default_rng(seed)
    g = groups.numpy()
    donor = np.array([rng.choice(np.nonzero(g != gi)[0]) for gi in g])
    out = []
    for start in range(0, len(fs), 64):
        idx = list(range(start, min(start + 64, len(fs))))
        out.append(model(fs.graph(torch.as_tensor(idx)), weights=weights[donor[idx]]).logits.argmax(1))
    return torch.cat(out).numpy()


def nmi(structures: list[Structure], groups: np.ndarray) -> float:
    """Normalised mutual information (arithmetic) between the derived structure and the group."""
    from sklearn.metrics import normalized_mutual_info_score

    ids = {}
    codes = [ids.setdefault(json.dumps(s.cells), len(ids)) for s in structures]
    return float(normalized_mutual_info_score(groups, codes))


def run_seed(base: VideoSearchRun, fs: FeatureSet, split: dict, oracle: list[Structure], out: Path,
             progress: bool = False, log: Callable = print) -> dict:
    """Every arm for one seed (``base.train.seed``): per-arm test predictions, per-group accuracy, the
    adaptive structures' NMI with the group and usage by group."""
    classes = list(fs.meta["classes"])
    val, test = fs.subset(split["val"]), fs.subset(split["test"])
    preds, chosen, models = {}, {}, {}
    runs = training_runs(base, oracle)
    for name, run in runs.items():
        slug = name.replace(":", "_").replace(" ", "_")
        models[name], _ = train_run(run, fs, split, out / slug, len(classes), progress, log)
    fixed = {n: m for n, m in models.items() if n.startswith("fixed:")}
    val_labels, val_groups = val.labels.numpy(), val.groups().numpy()
    val_pred = {n: predict(m, val) for n, m in fixed.items()}
    val_acc = {n: float((p == val_labels).mean()) for n, p in val_pred.items()}
    chosen["best fixed op"] = max(val_acc, key=val_acc.get)
    preds["best fixed op"] = predict(fixed[chosen["best fixed op"]], test)
    for name in fixed:
        preds[name] = predict(fixed[name], test)
    # the oracle from validation: each group routed to the structure that reads its own validation videos best,
    # among every single operation and the uniform mixture (trained on all videos) and the group's hand-chosen
    # route (trained routed)
    val_pred[HAND] = predict(models["oracle routing"], val)
    val_pred["uniform mixture"] = predict(models["uniform mixture"], val)
    routes = {n: Structure.uniform(n.split(":", 1)[1], base.model.steps, base.model.cells).to_dict() for n in fixed}
    routes["uniform mixture"] = MIXTURE

    def best_per_group(candidates: dict[str, np.ndarray]) -> list[str]:
        """For each group, the candidate whose validation predictions read that group's videos best."""
        return [max(candidates, key=lambda n: (candidates[n][val_groups == k] == val_labels[val_groups == k]).mean())
                for k in range(len(val.group_names))]

    best = best_per_group({n: val_pred[n] for n in [*routes, HAND]})
    chosen["oracle routing, chosen on validation"] = best
    # those routes trained from scratch and after the shared warm-up; the one that reads validation best is kept
    tried = {}
    for shared in sorted({0, base.search.warmup_epochs}):
        routed = copy.deepcopy(runs["oracle routing"])
        routed.model.routes = [oracle[k].to_dict() if n == HAND else routes[n] for k, n in enumerate(best)]
        routed.model.shared_epochs = shared
        model = train_run(routed, fs, split, out / f"oracle_routing_validation_shared{shared}", len(classes),
                          progress, log)[0]
        tried[shared] = (float((predict(model, val) == val_labels).mean()), model)
    shared = max(tried, key=lambda k: tried[k][0])
    chosen["validation oracle's shared epochs"] = shared
    models["oracle routing, chosen on validation"] = tried[shared][1]
    preds["oracle routing, chosen on validation"] = predict(models["oracle routing, chosen on validation"], test)
    # DARTS' protocol: the derived global structure, retrained from scratch
    derived = models["darts"].derived_structures(fs.graph(torch.arange(1)))[0]
    chosen["darts derived"] = json.dumps(derived.cells)
    models["darts derived"], _ = train_run(fixed_run(base, derived), fs, split, out / "darts_derived", len(classes),
                                           progress, log)
    preds["darts derived"] = predict(models["darts derived"], test)
    for name in ("mixed edges", "uniform mixture", "oracle routing"):
        preds[name] = predict(models[name], test)
    # the per-group expert: each group's test videos read by the whole trained network, among the non-adaptive
    # and the routed ones, that reads that group's validation videos best (a gate over networks, not one network)
    val_pred = {**{n: val_pred[n] for n in [*fixed, "uniform mixture"]}, "oracle routing": val_pred[HAND],
                **{n: predict(models[n], val) for n in
                   ("mixed edges", "darts derived", "oracle routing, chosen on validation")}}
    experts = best_per_group(val_pred)
    chosen["per-group expert, chosen on validation"] = experts
    groups = test.groups().numpy()
    preds["per-group expert, chosen on validation"] = np.choose(groups, [preds[n] for n in experts])
    adaptive = models["adaptive"]
    preds["adaptive, softmax at test"] = predict(adaptive, test, "softmax")
    preds["adaptive, argmax at test"] = predict(adaptive, test, "argmax")
    preds["shuffled routing"] = predict(adaptive, test, "shuffled", base.train.seed)
    structures = [s for g, _ in loader(test, 64) for s in adaptive.derived_structures(g)]
    analysis = {"nmi_structure_group": nmi(structures, groups),
                "distinct_structures": len({json.dumps(s.cells) for s in structures})}
    by_group = replace(test, labels=test.groups(), meta={**test.meta, "class_groups": None})
    usage = structure_usage(adaptive, by_group, test.group_names, out / "adaptive" / "by_group", by="family")
    analysis["usage_by_group"] = usage["usage"]
    tuned, _ = train_run(derived_tuning(runs["adaptive"]), fs, split, out / "adaptive_derived", len(classes),
                         progress, log, adaptive.state_dict())
    preds["adaptive + derived"] = predict(tuned, test)
    labels = test.labels.numpy()
    record = {"seed": base.train.seed, "chosen": chosen, "val_top1_fixed": val_acc, **analysis,
              "top1": {n: float((p == labels).mean()) for n, p in preds.items()},
              "top1_by_group": {n: {name: float((p[groups == k] == labels[groups == k]).mean())
                                    for k, name in enumerate(test.group_names)} for n, p in preds.items()}}
    with open(out / "predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video", "label", "group"] + list(preds))
        w.writerows([vid, int(y), test.group_names[g]] + [int(preds[n][i]) for n in preds]
                    for i, (vid, y, g) in enumerate(zip(test.ids, labels, groups)))
    (out / "seed.json").write_text(json.dumps(record, indent=1))
    return {"record": record, "correct": {n: (p == labels) for n, p in preds.items()}}


def paired(correct: dict[str, list[np.ndarray]], a: str, b: str, resamples: int = 2000, seed: int = 0
           ) -> tuple[float, float, float]:
    """Top-1 of arm a minus arm b, mean over seeds, with a 95 % bootstrap interval over test videos (the same
    resampled videos for every seed)."""
    diff = np.mean([ca.astype(float) - cb for ca, cb in zip(correct[a], correct[b])], axis=0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), (resamples, len(diff)))
    boot = diff[idx].mean(1)
    return float(diff.mean()), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def run_arms(base: VideoSearchRun, out: str | Path, seeds: list[int], oracle: list[Structure] | None = None,
             progress: bool = True, log: Callable = print) -> dict:
    """Every arm over ``seeds`` on one synthetic data set (``base.data``; training seeds vary); writes
    ``results.csv`` (arm × seed), ``summary.md`` (the table, paired differences, the validity and claim
    checks), ``summary.json`` and each seed's folder."""
    from .families import FAMILIES

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fs, split = synthetic_features(base.data, out / "features.pt", progress, log)
    if fs.groups() is None:
        raise InputError("the arms need a benchmark whose videos come in groups (--benchmark families)")
    oracle = oracle or [Structure(base.model.steps, [list(f.oracle)] * base.model.cells) for f in FAMILIES]
    records, correct = [], {}
    for seed in seeds:
        run = copy.deepcopy(base)
        run.train.seed = seed
        r = run_seed(run, fs, split, oracle, out / f"seed{seed}", progress, log)
        records.append(r["record"])
        for name, c in r["correct"].items():
            correct.setdefault(name, []).append(c)
        log(f"seed {seed}: " + ", ".join(f"{n} {r['record']['top1'][n]:.3f}" for n in ARMS))
    test = fs.subset(split["test"])
    summary = summarise(records, correct, test.group_names, test.groups().numpy())
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "seed", "top1"] + [f"top1:{g}" for g in summary["groups"]])
        for rec in records:
            for name in rec["top1"]:
                w.writerow([name, rec["seed"], f"{rec['top1'][name]:.4f}"]
                           + [f"{rec['top1_by_group'][name][g]:.4f}" for g in summary["groups"]])
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(format_summary(summary) + "\n")
    return summary


def summarise(records: list[dict], correct: dict[str, list[np.ndarray]], groups: list[str],
              group_of: np.ndarray) -> dict:
    """The arms' table over seeds; paired differences overall and within each group (``group_of``: each test
    video's group index)."""
    top1 = {n: [r["top1"][n] for r in records] for n in ARMS}
    best_non = max(NON_ADAPTIVE, key=lambda n: np.mean(top1[n]))
    pairs = [(a, best_non) for a in (*ORACLES, "adaptive, argmax at test", "adaptive, softmax at test",
                                     "adaptive + derived")]
    pairs += [("shuffled routing", "adaptive, argmax at test"), ("adaptive, argmax at test", "uniform mixture"),
              ("adaptive, argmax at test", "adaptive, softmax at test")]
    diffs = {f"{a} - {b}": paired(correct, a, b) for a, b in pairs}
    by_group = {g: {f"{a} - {b}": paired({n: [c[group_of == k] for c in correct[n]] for n in (a, b)}, a, b)
                    for a, b in pairs} for k, g in enumerate(groups)}
    oracle_gain = diffs[f"oracle routing - {best_non}"][0]
    expert_gain = diffs[f"per-group expert, chosen on validation - {best_non}"][0]
    adaptive_gain = diffs[f"adaptive, argmax at test - {best_non}"][0]
    return {"seeds": [r["seed"] for r in records], "groups": groups, "test_videos": int(len(correct[ARMS[0]][0])),
            "top1": {n: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                         "by_group": {g: float(np.mean([r["top1_by_group"][n][g] for r in records])) for g in groups}}
                     for n, v in top1.items()},
            "single_ops": {n.split(":", 1)[1]: {g: float(np.mean([r["top1_by_group"][n][g] for r in records]))
                                                for g in groups}
                           for n in records[0]["top1_by_group"] if n.startswith("fixed:")},
            "best_non_adaptive": best_non, "paired": diffs, "paired_by_group": by_group,
            "nmi": [r["nmi_structure_group"] for r in records],
            "chosen_fixed": [r["chosen"]["best fixed op"] for r in records],
            "oracle_from_validation": [r["chosen"]["oracle routing, chosen on validation"] for r in records],
            "oracle_shared_epochs": [r["chosen"]["validation oracle's shared epochs"] for r in records],
            "experts": [r["chosen"]["per-group expert, chosen on validation"] for r in records],
            "checks": {"oracle beats the best non-adaptive arm by >= 5 points": oracle_gain >= 0.05,
                       "oracle chosen on validation beats it by >= 5 points":
                           diffs[f"oracle routing, chosen on validation - {best_non}"][0] >= 0.05,
                       "the per-group expert beats it by >= 5 points": expert_gain >= 0.05,
                       "adaptive (argmax) beats it, interval above zero":
                           diffs[f"adaptive, argmax at test - {best_non}"][1] > 0,
                       "adaptive recovers >= 50 % of the oracle's gain":
                           oracle_gain > 0 and adaptive_gain >= 0.5 * oracle_gain,
                       "adaptive recovers >= 50 % of the per-group expert's gain":
                           expert_gain > 0 and adaptive_gain >= 0.5 * expert_gain,
                       "NMI(structure, group) >= 0.5": float(np.mean([r["nmi_structure_group"] for r in records]))
                       >= 0.5,
                       "shuffled routing loses the gain (interval below zero)":
                           diffs["shuffled routing - adaptive, argmax at test"][2] < 0}}


def format_summary(s: dict) -> str:
    g = s["groups"]
    lines = [f"Test top-1 over {len(s['seeds'])} seed(s) ({s['test_videos']} test videos): mean ± sd over seeds, and "
             "per group (mean over seeds).", "",
             "| arm | top-1 | " + " | ".join(g) + " |", "|---|---|" + "---|" * len(g)]
    for name, r in s["top1"].items():
        lines.append(f"| {name} | {r['mean']:.3f} ± {r['sd']:.3f} | "
                     + " | ".join(f"{r['by_group'][k]:.3f}" for k in g) + " |")
    if s.get("single_ops"):
        lines += ["", "Each single operation as the fixed structure, top-1 per group (mean over seeds): which "
                      "operation solves which group.", "",
                  "| operation | " + " | ".join(g) + " |", "|---|" + "---|" * len(g)]
        lines += [f"| {op} | " + " | ".join(f"{r[k]:.3f}" for k in g) + " |" for op, r in s["single_ops"].items()]
    lines += ["", f"Best fixed operation (chosen on validation, per seed): {', '.join(s['chosen_fixed'])}. "
                  f"Oracle from validation (per seed, one structure per group in the order {', '.join(g)}: a single "
                  f"operation, the uniform mixture or the group's {HAND} route): "
                  f"{'; '.join(', '.join(o) for o in s['oracle_from_validation'])}; its shared epochs (chosen on "
                  f"validation): {', '.join(map(str, s['oracle_shared_epochs']))}. "
                  f"Per-group expert (per seed, one trained network per group): "
                  f"{'; '.join(', '.join(o) for o in s['experts'])}. "
                  f"Best non-adaptive arm (mean test top-1): {s['best_non_adaptive']}.", "",
              "| paired difference (top-1) | mean | 95 % interval |", "|---|---|---|"]
    lines += [f"| {k} | {100 * m:+.1f} | [{100 * lo:+.1f}, {100 * hi:+.1f}] |"
              for k, (m, lo, hi) in s["paired"].items()]
    lines += ["", "Within each group (95 % bootstrap over that group's test videos):", "",
              "| paired difference (top-1) | " + " | ".join(g) + " |", "|---|" + "---|" * len(g)]
    cell = "{:+.1f} [{:+.1f}, {:+.1f}]".format
    lines += [f"| {k} | " + " | ".join(cell(*(100 * np.array(s["paired_by_group"][x][k]))) for x in g) + " |"
              for k in s["paired"]]
    lines += ["", f"NMI(derived structure, group) per seed: {', '.join(f'{v:.3f}' for v in s['nmi'])}", ""]
    lines += [f"- {k}: {'yes' if v else 'no'}" for k, v in s["checks"].items()]
    return "\n".join(lines)

