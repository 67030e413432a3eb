"""``intergraph video``: synthetic interaction videos, real dataset folders -> node features, region proposals,
and the graph-operations search with its baselines."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from ..terminal import App, console, progress_bar

app = App(help="Videos: synthetic data, graph-operations search.")


@app.command("synth")
def video_synth(
    out: Path = typer.Option(..., help="Dataset folder (frames, boxes, labels, splits); rerun to resume."),
    n: int = typer.Option(1100, "--n", help="Number of videos (labels cycle through the classes)."),
    seed: int = typer.Option(0), frames: int = typer.Option(16), size: int = typer.Option(112),
    distractors: int = typer.Option(2, help="Classic: at most this many static distractor objects per video."),
    benchmark: str = typer.Option("classic", help="classic (11 interaction classes) or families (scene families "
                                                  "whose labels need different operations)."),
    box_order: str = typer.Option("shuffled", help="Box columns: shuffled in every frame, or one order per video."),
    check: bool = typer.Option(False, "--check", help="Also print the benchmark's probes (node features of a frozen "
                                                      "small3d backbone): family from the predictor's descriptor, "
                                                      "label within family from it and from the object nodes, "
                                                      "a box-only oracle, the label from the key object."),
) -> None:
    """Write synthetic interaction videos in the Something-Something / Something-Else layout."""
    import json

    from .something import write_synthetic
    from .synthetic import SyntheticConfig, classes_of

    cfg = SyntheticConfig(frames=frames, size=size, distractors=distractors, seed=seed, benchmark=benchmark,
                          box_order=box_order)
    with progress_bar() as bar:
        task = bar.add_task("rendering", total=n)
        write_synthetic(out, n, cfg, on_video=lambda: bar.advance(task))
    console.print(f"{n} videos of {len(classes_of(cfg))} classes -> {out.resolve()}")
    if check:
        from .experiment import VideoDataConfig, synthetic_features
        from .probes import check as probe
        from .probes import format_check

        if benchmark != "families":
            raise InputError("--check probes scene families: use it with --benchmark families")
        fs, split = synthetic_features(VideoDataConfig(videos=n, synthetic=cfg), out / "features.pt",
                                       log=console.print)
        result = probe(fs, split, seed, cfg)
        (out / "probes.json").write_text(json.dumps(result, indent=1))
        console.print(format_check(result))
        console.print(f"  {(out / 'probes.json').resolve()}")


@app.command("extract")
def video_extract(
    data: Path = typer.Option(..., help="Dataset folder: labels.json|labels.csv, {train,val,test}.txt|.json, "
                                        "frames/<id>/ or videos/<id>.webm|mp4..., annotations.json (boxes)."),
    out: Path = typer.Option(..., help="Feature store folder; rerun to resume."),
    backbone: str = typer.Option("small3d", help="small3d, r3d_18, r2plus1d_18 or mc3_18."),
    weights: Optional[Path] = typer.Option(None, help="Backbone weights (a state dict); random init without."),
    frames: int = typer.Option(8, help="Frames sampled per video (the central clip)."),
    size: int = typer.Option(112, help="Side of the central square crop after resizing."),
    boxes: str = typer.Option("annotations", help="annotations (Something-Else), proposals (`video proposals`) or "
                                                  "grid (tiles, no annotations)."),
    missing: str = typer.Option("mask", help="Frames without an object's box: mask, or carry its last box."),
    nodes_per_frame: int = typer.Option(4, help="Object nodes per frame (the paper: 10)."),
    test_clips: int = typer.Option(1, help="Clips per validation/test video, scores averaged (the paper: 5)."),
    train_clips: int = typer.Option(0, help="Augmented clips per training video (jittered frames, multi-scale "
                                            "crop, flip with label swap); 0: the central clip only."),
    template: str = typer.Option("{:04d}.jpg", help="Frame file names ({:05d}.jpg or %05d.jpg style)."),
    start: int = typer.Option(1, help="Index of the first frame file."),
    seed: int = typer.Option(0),
) -> None:
    """Node features of every video of a dataset, once (frozen backbone), into a resumable store."""
    import torch

    from .nodes import NodeConfig
    from .something import ClipSpec
    from .store import extract_store

    if boxes not in ("annotations", "proposals", "grid"):
        raise InputError(f"--boxes must be annotations, proposals or grid, not {boxes!r}")
    index = extract_store(data, out, NodeConfig(backbone=backbone, weights=str(weights) if weights else None,
                                                nodes_per_frame=nodes_per_frame),
                          ClipSpec(frames, size, boxes, missing, template=template, start=start, top=nodes_per_frame,
                                   test_clips=test_clips, train_clips=train_clips, seed=seed), seed,
                          device="cuda" if torch.cuda.is_available() else "cpu", log=console.print)
    console.print(f"train {len(index['splits']['train'])} / val {len(index['splits']['val'])} / test "
                  f"{len(index['splits']['test'])} videos -> {out.resolve()}")


@app.command("proposals")
def video_proposals(
    data: Path = typer.Option(..., help="Dataset folder (as for `video extract`)."),
    weights: Optional[Path] = typer.Option(None, help="Detector weights: a torchvision state dict (no download)."),
    out: Optional[Path] = typer.Option(None, help="Proposals JSON (paper format); default DATA/proposals.json."),
    detector: str = typer.Option("fasterrcnn_resnet50_fpn", help="torchvision Faster R-CNN variant."),
    top: int = typer.Option(10, help="Proposals kept per frame (the paper: 10 object nodes)."),
) -> None:
    """Region proposals for every frame of every video, once; then `video extract --boxes proposals`."""
    import torch

    from .proposals import load_detector, write_proposals
    from .something import dataset_videos

    out = out or data / "proposals.json"
    model = load_detector(detector, weights, top)
    if torch.cuda.is_available():
        model = model.cuda()
    videos = dataset_videos(data)
    with progress_bar() as bar:
        task = bar.add_task("proposals", total=len(videos))
        result = write_proposals(videos, model, out, on_video=lambda: bar.advance(task), log=console.print)
    console.print(f"proposals of {result['videos']} videos -> {out.resolve()}")


@app.command("evaluate")
def video_evaluate(run: Path = typer.Argument(..., help="A `video search` run folder.")) -> None:
    """Top-1 / top-5 of a search run's adaptive model on its test videos (multi-clip scores averaged)."""
    from .experiment import evaluate_run

    r = evaluate_run(run)
    console.print(f"{run}: {r['videos']} test videos, top-1 {r['test/top1']:.4f}, top-5 {r['test/top5']:.4f}")


# the options shared by `video arms` and `video search`
HEAD_OPTION = typer.Option("mean", help="Classifier head: mean (the paper) or temporal (adds the late-minus-early mean "
                                        "of the nodes, so the direction of time is seen).")
RECIPE_OPTION = typer.Option("ours", help="Settings to start from: ours (Adam 3e-3, cosine, 4 warm-up epochs, basic "
                                          "operations) or paper (the official space and schedule: SGD 0.01 with "
                                          "plateau decay, structure Adam 1e-4, no warm-up, valid temporal "
                                          "convolution); the options below override it.")
OPS_OPTION = typer.Option(None, help="Candidate operations: basic, paper (composites) or a comma list (default: the "
                                     "recipe's).")
LR_OPTION = typer.Option(None, help="Learning rate of the network weights (default: the recipe's).")
STRUCTURE_LR_OPTION = typer.Option(None, help="Adam learning rate of the structure (default: the recipe's).")
WARMUP_OPTION = typer.Option(None, help="Epochs of weight training before structure updates (default: the recipe's).")
LAYOUT_OPTION = typer.Option(False, help="Add a learned embedding of each box's layout to its object features (off: "
                                         "layout enters node attention only, as the paper).")


@app.command("arms")
def video_arms(
    out: Path = typer.Option(..., help="Results folder; rerun to resume (finished runs are reused)."),
    videos: int = typer.Option(1800, help="Videos of the families benchmark (a third per family)."),
    seeds: str = typer.Option("0,1,2,3,4", help="Training seeds (comma list); the data set stays the same."),
    data_seed: int = typer.Option(0, help="Seed of the rendered videos and the frozen backbone."),
    epochs: int = typer.Option(18), batch_size: int = typer.Option(16), width: int = typer.Option(128),
    recipe: str = RECIPE_OPTION,
    ops: Optional[str] = OPS_OPTION,
    lr: Optional[float] = LR_OPTION, structure_lr: Optional[float] = STRUCTURE_LR_OPTION,
    warmup: Optional[int] = WARMUP_OPTION,
    head: str = HEAD_OPTION,
    layout_embedding: bool = LAYOUT_OPTION,
) -> None:
    """Every arm on the families benchmark: best fixed op, DARTS derived, mixed edges, uniform mixture, oracle
    routing, adaptive (softmax / argmax at test, + derived training), shuffled routing; paired intervals."""
    from .arms import arms_run, command_of, run_arms

    base = arms_run(videos, data_seed, epochs, batch_size, width, recipe, head, layout_embedding, ops, lr,
                    structure_lr, warmup)
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text(command_of(base, out, [int(s) for s in seeds.split(",")], recipe) + "\n")
    run_arms(base, out, [int(s) for s in seeds.split(",")], log=console.print)
    console.print((out / "summary.md").read_text())


@app.command("search")
def video_search(
    out: Path = typer.Option(..., help="Run folder; rerun to resume."),
    data: str = typer.Option("synthetic", help="synthetic, a dataset folder (video synth layout), a feature store "
                                               "(intergraph video extract) or a feature file."),
    features: Optional[Path] = typer.Option(None, help="A feature store from `intergraph video extract` (same as "
                                                       "--data STORE)."),
    videos: int = typer.Option(1100, help="Synthetic: number of videos."),
    benchmark: str = typer.Option("classic", help="Synthetic: classic or families."),
    recipe: str = RECIPE_OPTION,
    ops: Optional[str] = OPS_OPTION,
    epochs: int = typer.Option(18), batch_size: int = typer.Option(16), width: int = typer.Option(128),
    steps: int = typer.Option(3, help="Intermediate nodes per cell."), cells: int = typer.Option(1),
    weight_optimizer: Optional[str] = typer.Option(None, help="adam or sgd (default: the recipe's)."),
    lr: Optional[float] = LR_OPTION,
    structure_lr: Optional[float] = STRUCTURE_LR_OPTION,
    diversity: float = typer.Option(0.1, help="Weight of the diversity loss."),
    gumbel: float = typer.Option(0.0, help="Train on straight-through Gumbel-softmax structure samples at this "
                                 "temperature (one operation per edge, as at test: GDAS); 0: softmax mixtures."),
    gumbel_from: int = typer.Option(0, help="First epoch of the Gumbel samples (softmax mixtures before it)."),
    warmup: Optional[int] = WARMUP_OPTION,
    baselines: bool = typer.Option(True, help="Also train global-alpha DARTS and every single operation."),
    fixed: Optional[Path] = typer.Option(None, help="Train only this derived structure (JSON), no search."),
    descriptor: str = typer.Option("background", help="What predicts each video's structure: background (the "
                                   "paper) or motion (background + objects and their change over the clip)."),
    head: str = HEAD_OPTION,
    layout_embedding: bool = LAYOUT_OPTION,
    backbone: str = typer.Option("small3d", help="small3d, r3d_18, r2plus1d_18 or mc3_18."),
    weights: Optional[Path] = typer.Option(None, help="Backbone weights (a state dict); random init without."),
    seed: int = typer.Option(0),
) -> None:
    """Search adaptive graph-operation structures (Li et al., CVPR 2020), compare with fixed ones and DARTS."""
    from ..search.structure import Structure
    from ..train.config import TrainConfig
    from ..train.search import SearchConfig
    from .experiment import VideoDataConfig, VideoSearchRun, run_search
    from .experiment import recipe as recipe_of
    from .model import VideoModelConfig
    from .nodes import NodeConfig
    from .synthetic import SyntheticConfig

    model, search = recipe_of(recipe, dict(ops=ops), dict(weight_optimizer=weight_optimizer, weight_lr=lr,
                                                          structure_lr=structure_lr, warmup_epochs=warmup))

    data = str(features) if features is not None else data
    run = VideoSearchRun(
        data=VideoDataConfig(source=data, videos=videos, synthetic=SyntheticConfig(seed=seed, benchmark=benchmark),
                             nodes=NodeConfig(backbone=backbone, weights=str(weights) if weights else None)),
        model=VideoModelConfig(width=width, steps=steps, cells=cells, descriptor=descriptor, head=head,
                               layout_embedding=layout_embedding, gumbel=gumbel,
                               gumbel_from=gumbel_from, **model),
        train=TrainConfig(max_epochs=epochs, batch_size=batch_size, monitor="val/top1", mode="max",
                          early_stop_patience=10, seed=seed),
        search=SearchConfig(diversity_weight=diversity, **search))
    run_search(run, out, baselines=baselines, log=console.print, progress=True,
               fixed=Structure.load(fixed) if fixed else None)
    console.print((out / "summary.md").read_text())
    for rel in ("summary.md", "results.csv", "analysis.json", "runs/adaptive/usage.png", "runs/adaptive/examples.png",
                "runs/adaptive/structures.json"):
        console.print(f"  {(out / rel).resolve()}")
