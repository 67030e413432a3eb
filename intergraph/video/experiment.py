"""Graph-operations search on videos, end to end: node features once (frozen backbone), then the adaptive
search, global-α DARTS and every single operation as a fixed structure, each trained on the same features
and splits; a table of test accuracy, per-class operation usage, derived structures of example videos.

Every run folder holds ``config.yaml``, ``metrics.csv`` (per epoch), ``metrics.json`` (test), checkpoints
(best and last, resumable); the search run adds ``usage.png``, ``usage.csv``, ``structures.json`` and
``examples.png``.
"""
from __future__ import annotations

import copy
import csv
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..errors import InputError, MissingError
from ..search.cell import ZERO
from ..search.draw import draw_structures
from ..search.structure import Structure
from ..train.config import TrainConfig
from ..train.experiment import Experiment, run_experiment
from ..train.loop import EpochShuffle, load_checkpoint
from ..train.search import SearchConfig, SearchModule
from .features import FeatureSet, LabelledVideo, extract
from .model import InteractionModel, VideoModelConfig
from .nodes import NodeConfig, NodeExtractor
from .synthetic import (
    CAMERA_CLASSES,
    CLASSES,
    MOTION_CLASSES,
    SyntheticConfig,
    class_groups,
    classes_of,
    render,
    splits,
)
from .task import ClassificationTask

CAMERA_OPS = {"back_incor", "comb_back"}
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # feature extraction; training picks its own
MOTION_OPS = {"temp_conv", "diff_prop", "comb_temp", "comb_diff"}


@dataclass
class VideoDataConfig:
    source: str = "synthetic"   # "synthetic" or a stored feature file (intergraph video extract)
    videos: int = 1100          # synthetic: number of videos (labels cycle through the classes)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    nodes: NodeConfig = field(default_factory=NodeConfig)


#: Named recipes: the model and search settings a run starts from (explicit settings win, see :func:`recipe`).
#: ``ours``: Adam 3e-3 from scratch with cosine decay, 4 warm-up epochs, the basic operations, "same" temporal
#: convolution. ``paper``: the official code's space (zero, identity, the three composites) and schedule — SGD
#: 0.01, momentum 0.9, weight decay 1e-4, plateau decay on validation top-1 (TrainConfig's factor and patience);
#: Adam 1e-4, weight decay 1e-3 for the structure; no warm-up; "valid" temporal convolution. Both recipes update
#: the weights on every batch (``interleave="both"``), so every arm gets as many weight updates.
RECIPES = {
    "ours": {"model": {"ops": "basic", "temporal_padding": "same"},
             "search": {"weight_optimizer": "adam", "weight_lr": 3e-3, "weight_decay": 1e-4, "structure_lr": 3e-3,
                        "structure_weight_decay": 1e-3, "warmup_epochs": 4, "schedule": "cosine"}},
    "paper": {"model": {"ops": "paper", "temporal_padding": "valid"},
              "search": {"weight_optimizer": "sgd", "weight_lr": 0.01, "weight_decay": 1e-4, "structure_lr": 1e-4,
                         "structure_weight_decay": 1e-3, "warmup_epochs": 0, "schedule": "plateau"}},
}


@dataclass
class VideoSearchRun:
    """Defaults: the synthetic built-in job on a CPU budget of about 10 minutes (width 128, 18 epochs) with the
    ``ours`` recipe (:data:`RECIPES`: Adam 3e-3 on the weights from scratch, 4 warm-up epochs, a faster
    structure learning rate than the paper's fine-tuning schedule, which ``--recipe paper`` restores)."""

    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    model: VideoModelConfig = field(default_factory=lambda: VideoModelConfig(width=128))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        max_epochs=18, batch_size=16, monitor="val/top1", mode="max", early_stop_patience=10))
    search: SearchConfig = field(default_factory=lambda: SearchConfig(**RECIPES["ours"]["search"]))


def recipe(name: str, model: dict | None = None, search: dict | None = None) -> tuple[dict, dict]:
    """Keyword arguments of :class:`VideoModelConfig` and :class:`SearchConfig`: the named recipe's, replaced
    by the given settings that are not None."""
    if name not in RECIPES:
        raise InputError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    chosen = RECIPES[name]
    return ({**chosen["model"], **{k: v for k, v in (model or {}).items() if v is not None}},
            {**chosen["search"], **{k: v for k, v in (search or {}).items() if v is not None}})


def synthetic_videos(indices, cfg: SyntheticConfig):
    for i in indices:
        v = render(i, cfg)
        yield LabelledVideo(f"synth{cfg.seed}_{i:06d}", v.frames, v.boxes,
                            np.ones(v.boxes.shape[:2], bool), v.label)


def synthetic_features(data: VideoDataConfig, cache: Path | None = None, progress: bool = True,
                       log: Callable = print) -> tuple[FeatureSet, dict[str, list[int]]]:
    """Render the synthetic set and compute its node features with a frozen, seeded backbone (random
    initialisation unless weights are given); cached in ``cache`` keyed by the whole data config."""
    key = json.dumps(asdict(data), sort_keys=True)
    if cache is not None and cache.exists():
        fs = FeatureSet.load(cache)
        if fs.meta.get("key") == key:
            return fs, splits(len(fs))
    torch.manual_seed(data.synthetic.seed)
    extractor = NodeExtractor(data.nodes)
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("synthetic videos -> node features", total=data.videos)
        fs = extract(synthetic_videos(range(data.videos), data.synthetic), extractor, batch_size=16, device=DEVICE,
                     on_batch=lambda n: bar.advance(task, n),
                     meta={"key": key, "classes": classes_of(data.synthetic), "splits": splits(data.videos),
                           "class_groups": class_groups(data.synthetic)})
    if cache is not None:
        fs.save(cache)
        log(f"node features of {len(fs)} synthetic videos -> {cache}")
    return fs, splits(len(fs))


def folder_features(data: VideoDataConfig, cache: Path | None = None, progress: bool = True,
                    log: Callable = print) -> tuple[FeatureSet, dict[str, list[int]]]:
    """Node features of a dataset folder (``intergraph video synth`` layout: frame folders, Something-Else
    boxes, split lists); unreadable videos are skipped and reported at the end, never silently."""
    from .something import folder_videos, groups_of, read_labels

    root = Path(data.source)
    classes = read_labels(root / "labels.json")
    key = json.dumps({"source": str(root.resolve()), "nodes": asdict(data.nodes)}, sort_keys=True)
    if cache is not None and cache.exists():
        fs = FeatureSet.load(cache)
        if fs.meta.get("key") == key:
            return fs, fs.meta["splits"]
    torch.manual_seed(data.synthetic.seed)
    extractor = NodeExtractor(data.nodes)
    parts, skipped = {}, []
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        for split in ("train", "val", "test"):
            task = bar.add_task(f"{split}: videos -> node features", total=None)
            parts[split] = extract(folder_videos(root, split, skipped), extractor, batch_size=16, device=DEVICE,
                                   on_batch=lambda n: bar.advance(task, n))
    for vid, why in skipped:
        log(f"skipped video {vid}: {why}")
    if not all(len(p) for p in parts.values()):
        raise InputError(f"{root}: a split has no readable video ({ {k: len(v) for k, v in parts.items()} })")
    fs = FeatureSet(*(torch.cat([getattr(parts[s], a) for s in parts])
                      for a in ("objects", "background", "layout", "mask", "labels")),
                    [i for s in parts for i in parts[s].ids],
                    {"key": key, "classes": classes, "class_groups": groups_of(root)})
    n_train, n_val = len(parts["train"]), len(parts["val"])
    fs.meta["splits"] = {"train": list(range(n_train)), "val": list(range(n_train, n_train + n_val)),
                         "test": list(range(n_train + n_val, len(fs)))}
    fs.meta["skipped"] = skipped
    if cache is not None:
        fs.save(cache)
        log(f"node features of {len(fs)} videos of {root} -> {cache}"
            + (f" ({len(skipped)} skipped)" if skipped else ""))
    return fs, fs.meta["splits"]


class _Indices(torch.utils.data.Dataset):
    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def loader(fs: FeatureSet, batch_size: int, shuffle_seed: int | None = None) -> DataLoader:
    def collate(idx):
        return fs.graph(torch.as_tensor(idx)), fs.labels[torch.as_tensor(idx)]

    sampler = EpochShuffle(len(fs), shuffle_seed) if shuffle_seed is not None else None
    return DataLoader(_Indices(len(fs)), batch_size=batch_size, sampler=sampler, collate_fn=collate)


def train_loaders(run: VideoSearchRun, train: FeatureSet):
    """One shuffled loader; for DARTS a dict of two, over the two halves of the training set."""
    bs, seed = run.train.batch_size, run.train.seed
    if run.search.mode in ("darts1", "darts2"):
        half = len(train) // 2
        return {"train": loader(train.subset(list(range(half))), bs, seed),
                "search": loader(train.subset(list(range(half, len(train)))), bs, seed + 1)}
    return loader(train, bs, seed)


def build_model(run: VideoSearchRun, fs: FeatureSet, classes: int) -> InteractionModel:
    cfg = copy.deepcopy(run.model)
    shape = fs.shape
    cfg.in_channels, cfg.frames = shape["channels"], shape["frames"]
    cfg.nodes_per_frame, cfg.background_per_frame, cfg.classes = (shape["nodes_per_frame"],
                                                                 shape["background_per_frame"], classes)
    return InteractionModel(cfg)


def train_run(run: VideoSearchRun, fs: FeatureSet, split: dict[str, list[int]], run_dir: Path, classes: int,
              progress: bool = True, log: Callable = print, init: dict | None = None) -> tuple[InteractionModel, dict]:
    """Train one configuration through the experiment skeleton (claimed run folder, resumable), starting from
    the model state ``init`` if given; evaluate the best checkpoint on the test split."""
    run_dir = Path(run_dir)
    test = fs.subset(split["test"])

    def module_of() -> SearchModule:
        torch.manual_seed(run.train.seed)
        model = build_model(run, fs, classes)
        if init is not None:
            model.load_state_dict(init)
        return SearchModule(model, ClassificationTask(), run.train, run.search)

    def build(folder: Path) -> Experiment:
        module = module_of()
        n_par = sum(p.numel() for p in module.model.parameters())
        return Experiment(module, train_loaders(run, fs.subset(split["train"])), loader(fs.subset(split["val"]), 64),
                          lambda m: evaluate(m, test, folder / "predictions.csv"), {"total": n_par},
                          f"{run_dir.name}: {run.model.structure} structure, mode {run.search.mode}, {n_par:,} "
                          f"parameters")

    result = run_experiment(run, run_dir, build, progress, log)
    module = module_of()
    best = run_dir / "checkpoints" / "best.ckpt"
    load_checkpoint(module, best if best.exists() else run_dir / "checkpoints" / "last.ckpt")
    return module.model.eval(), result


def average_clips(logits: np.ndarray, labels: np.ndarray, ids: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per video ("<id>#<clip>"): log of the mean softmax over its clips, its label, its id."""
    base = [i.split("#")[0] for i in ids]
    videos = list(dict.fromkeys(base))
    row = {v: k for k, v in enumerate(videos)}
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    total = np.zeros((len(videos), logits.shape[1]))
    count = np.zeros(len(videos))
    lab = np.zeros(len(videos), dtype=labels.dtype)
    for k, v in enumerate(base):
        total[row[v]] += p[k]
        count[row[v]] += 1
        lab[row[v]] = labels[k]
    return np.log(total / count[:, None] + 1e-12), lab, videos


@torch.no_grad()
def evaluate(model: InteractionModel, fs: FeatureSet, predictions: Path | None = None) -> dict:
    """Top-1/top-5 on ``fs`` with each video's derived structure; per-class accuracy; optionally each video's
    label and top-5 predictions as CSV."""
    model.eval()
    logits, labels = [], []
    for graph, y in loader(fs, 64):
        logits.append(model(graph, derive_structure=model.searchable).logits)
        labels.append(y)
    logits, labels = torch.cat(logits).numpy(), torch.cat(labels).numpy()
    ids = list(fs.ids)
    if any("#" in i for i in ids):  # several clips per video: average their class probabilities
        logits, labels, ids = average_clips(logits, labels, ids)
    task = ClassificationTask()
    out = {"test/" + k: v for k, v in task.metrics({"logits": logits, "labels": labels}).items()}
    pred = logits.argmax(1)
    if predictions is not None:
        top5 = np.argsort(-logits, axis=1, kind="stable")[:, :5]
        with open(predictions, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["video", "label", "predicted", "top5"])
            w.writerows([vid, int(y), int(p), " ".join(map(str, t))] for vid, y, p, t in zip(ids, labels, pred, top5))
    out["test/per_class_top1"] = {int(c): float((pred[labels == c] == c).mean()) for c in np.unique(labels)}
    return out


@torch.no_grad()
def structure_usage(model: InteractionModel, fs: FeatureSet, classes: list[str], out: Path,
                    examples_per_class: int = 2, by: str = "class") -> dict:
    """Per-class operation usage of the derived structures (CSV + heatmap PNG), the structure of every test
    video (JSON), example structures (PNG), and the share of camera / motion videos that select background
    incorporation / temporal convolution or difference propagation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in model.cfg.op_names if n != ZERO]
    structures: list[Structure] = []
    for graph, _ in loader(fs, 64):
        structures += model.derived_structures(graph)
    labels = fs.labels.numpy()
    usage = np.zeros((len(classes), len(names)))
    for s, y in zip(structures, labels):
        u = s.usage()
        total = sum(u.values())
        usage[y] += [u.get(n, 0) / total for n in names]
    counts = np.bincount(labels, minlength=len(classes)).clip(min=1)
    usage /= counts[:, None]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "usage.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class"] + names)
        for c, row in zip(classes, usage):
            w.writerow([c] + [f"{v:.4f}" for v in row])
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 3, 0.45 * len(classes) + 1.5))
    im = ax.imshow(usage, cmap="viridis", vmin=0, vmax=max(usage.max(), 1e-6), aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(names)):
            ax.text(j, i, f"{usage[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if usage[i, j] < usage.max() / 2 else "black")
    fig.colorbar(im, ax=ax, label="share of a video's edges")
    ax.set_title(f"Operation usage of the derived structures, per {by} (test videos)")
    fig.tight_layout()
    fig.savefig(out / "usage.png", dpi=110)
    plt.close(fig)
    (out / "structures.json").write_text(json.dumps(
        [{"video": vid, "label": int(y), "class": classes[y], "structure": s.to_dict()}
         for vid, y, s in zip(fs.ids, labels, structures)], indent=1))
    picks = [i for c in range(len(classes)) for i in np.nonzero(labels == c)[0][:examples_per_class]]
    draw_structures([structures[i] for i in picks], [f"{fs.ids[i]}: {classes[labels[i]]}" for i in picks],
                    out / "examples.png", names)

    def share(cls: list[int], ops: set[str]) -> dict[str, float]:
        return {classes[c]: float(np.mean([bool(ops & set(s.usage())) for s, y in zip(structures, labels) if y == c]))
                for c in cls if (labels == c).any()}

    return {"usage": {c: dict(zip(names, map(float, row))) for c, row in zip(classes, usage)},
            "camera_with_background": share(CAMERA_CLASSES, CAMERA_OPS) if classes == CLASSES else {},
            "motion_with_temporal": share(MOTION_CLASSES, MOTION_OPS) if classes == CLASSES else {},
            "distinct_structures": len({json.dumps(s.cells) for s in structures})}


def derived_tuning(adaptive: VideoSearchRun) -> VideoSearchRun:
    """The searched weights trained on with each video's derived structure (predictor frozen, no warm-up,
    half the epochs)."""
    tuned = copy.deepcopy(adaptive)
    tuned.search.mode, tuned.search.warmup_epochs = "derived", 0
    tuned.train.max_epochs = max(adaptive.train.max_epochs // 2, 1)
    return tuned


def fixed_run(base: VideoSearchRun, structure: Structure) -> VideoSearchRun:
    """``base`` with a fixed, derived structure (DARTS' protocol: retrained from scratch)."""
    run = copy.deepcopy(base)
    run.model.structure, run.search.mode, run.model.fixed = "fixed", "fixed", structure.to_dict()
    return run


def variants(base: VideoSearchRun, baselines: bool = True, fixed_ops: list[str] | None = None
             ) -> dict[str, VideoSearchRun]:
    """The adaptive search; with ``baselines`` also global-α DARTS (first order) and one fixed structure per
    operation (``fixed_ops``, default every candidate but zero)."""
    out = {}
    adaptive = copy.deepcopy(base)
    adaptive.model.structure, adaptive.search.mode = "adaptive", "alternate"
    out["adaptive"] = adaptive
    if not baselines:
        return out
    darts = copy.deepcopy(base)
    darts.model.structure, darts.search.mode = "global", "darts1"
    out["darts"] = darts
    from .ops import candidates

    for op in fixed_ops if fixed_ops is not None else [o for o in candidates(base.model.ops) if o != ZERO]:
        v = copy.deepcopy(base)
        v.model.structure, v.search.mode = "fixed", "fixed"
        v.model.fixed = Structure.uniform(op, base.model.steps, base.model.cells).to_dict()
        out[f"fixed:{op}"] = v
    return out


def run_search(base: VideoSearchRun, out: Path, baselines: bool = True, fixed_ops: list[str] | None = None,
               progress: bool = True, log: Callable = print, features: FeatureSet | None = None,
               split: dict | None = None, fixed: Structure | None = None) -> dict:
    """The main job: every variant on the same features and splits; table, usage analysis, figures.
    With ``fixed`` (a derived structure), only that fixed network is trained."""
    from .ops import candidates

    candidates(base.model.ops)  # a typo fails now, not after the features are computed
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if features is None:
        source = base.data.source
        if source == "synthetic":
            features, split = synthetic_features(base.data, out / "features.pt", progress, log)
        elif Path(source).is_dir() and (Path(source) / "index.json").exists():
            from .store import load_store

            features = load_store(source)
            split = features.meta["splits"]
        elif Path(source).is_dir():
            features, split = folder_features(base.data, out / "features.pt", progress, log)
        else:  # a stored feature file with its splits
            features = FeatureSet.load(source)
            split = features.meta.get("splits")
            if not split:
                raise InputError(f"{source}: the feature file holds no train/val/test splits")
    classes = list(features.meta.get("classes") or [str(i) for i in range(int(features.labels.max()) + 1)])
    log(f"{len(features)} videos (train {len(split['train'])} / val {len(split['val'])} / test {len(split['test'])}), "
        f"{len(classes)} classes, graph {features.shape}")
    rows, analysis = [], {}
    if fixed is not None:
        run = copy.deepcopy(base)
        run.model.structure, run.search.mode, run.model.fixed = "fixed", "fixed", fixed.to_dict()
        run.model.steps, run.model.cells = fixed.steps, len(fixed.cells)
        todo = {"derived": run}
    else:
        todo = variants(base, baselines, fixed_ops)
    def train(name: str, run: VideoSearchRun, init: dict | None = None) -> InteractionModel:
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        model, result = train_run(run, features, split, out / "runs" / slug, len(classes), progress, log, init)
        rows.append({"structure": name, "top1": result["test/top1"], "top5": result["test/top5"],
                     "parameters": result["parameters"]["total"]})
        log(f"{name}: top-1 {result['test/top1']:.3f}, top-5 {result['test/top5']:.3f}")
        return model

    for name, run in todo.items():
        model = train(name, run)
        if name == "adaptive":
            # the searched weights, trained on with each video's derived structure (frozen predictor)
            model = train("adaptive + derived training", derived_tuning(run), model.state_dict())
            analysis = structure_usage(model, features.subset(split["test"]), classes, out / "runs" / "adaptive")
        elif name == "darts":
            # DARTS' own protocol: the derived global structure, trained from scratch as a fixed network
            derived = model.derived_structures(features.graph(torch.arange(1)))[0]
            retrain = fixed_run(run, derived)
            derived.save(out / "runs" / "darts" / "structure.json")
            train("darts derived, retrained", retrain)
    write_table(rows, analysis, out)
    return {"rows": rows, "analysis": analysis}


def write_table(rows: list[dict], analysis: dict, out: Path) -> None:
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    fixed = [r for r in rows if r["structure"].startswith("fixed:")]
    best = max(fixed, key=lambda r: r["top1"]) if fixed else None
    searched = [r for r in rows if r["structure"].startswith("adaptive")]
    lines = ["| structure | top-1 | top-5 | parameters |", "|---|---|---|---|"]
    lines += [f"| {r['structure']} | {r['top1']:.3f} | {r['top5']:.3f} | {r['parameters']:,} |" for r in rows]
    if searched and best:
        lines += [""] + [f"{r['structure']} vs the best fixed structure ({best['structure']}): "
                         f"{100 * (r['top1'] - best['top1']):+.1f} points top-1." for r in searched]
    for key, title in (("camera_with_background", "Camera-motion videos whose structure uses background incorporation"),
                       ("motion_with_temporal",
                        "Motion videos whose structure uses temporal convolution or difference propagation")):
        if analysis.get(key):
            lines += ["", f"{title}:"] + [f"- {c}: {100 * v:.0f}%" for c, v in analysis[key].items()]
    if analysis:
        lines += ["", f"Distinct derived structures among the test videos: {analysis['distinct_structures']}"]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "analysis.json").write_text(json.dumps(analysis, indent=1))


def evaluate_run(out: str | Path) -> dict:
    """Top-1/top-5 of a finished search run on its test videos (clip scores averaged when the features hold
    several clips per video), from its best checkpoint and its stored features."""
    from ..train.config import load_yaml

    out = Path(out)
    run_dir = out / "runs" / "adaptive" if (out / "runs" / "adaptive" / "config.yaml").exists() else out
    if not (run_dir / "config.yaml").exists():
        raise MissingError(f"{out}: not a video search run (no config.yaml)")
    run = load_yaml(VideoSearchRun, run_dir / "config.yaml")
    source = run.data.source
    if source != "synthetic" and (Path(source) / "index.json").exists():
        from .store import load_store

        fs = load_store(source)
    else:
        features = out / "features.pt" if (out / "features.pt").exists() else Path(source)
        fs = FeatureSet.load(features)
    split = fs.meta.get("splits") or splits(len(fs))
    classes = list(fs.meta.get("classes") or [str(i) for i in range(int(fs.labels.max()) + 1)])
    model = build_model(run, fs, len(classes))
    module = SearchModule(model, ClassificationTask(), run.train, run.search)
    best = run_dir / "checkpoints" / "best.ckpt"
    load_checkpoint(module, best if best.exists() else run_dir / "checkpoints" / "last.ckpt")
    result = evaluate(model.eval(), fs.subset(split["test"]))
    result["videos"] = len({i.split("#")[0] for i in (fs.ids[k] for k in split["test"])})
    return result
