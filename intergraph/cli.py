"""The ``intergraph`` command: one entry point, a subcommand per job."""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # lightning vs torch 2.14

from pathlib import Path  # noqa: E402
from typing import List, Optional  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402
from rich.table import Table  # noqa: E402

app = typer.Typer(help="Learning interactions on graphs: proteins and videos.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Find and fetch data sets.", no_args_is_help=True)
protein_app = typer.Typer(help="Protein structures, graphs and models.", no_args_is_help=True)
plm_app = typer.Typer(help="Protein language models: embeddings, the embedding store, pretraining.",
                      no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(protein_app, name="protein")
video_app = typer.Typer(help="Videos: synthetic data, graph-operations search.", no_args_is_help=True)
app.add_typer(plm_app, name="plm")
app.add_typer(video_app, name="video")
console = Console()
err = Console(stderr=True)


def progress_over(items, description: str):
    """Iterate ``items`` with a rich progress bar (plain output when not a terminal)."""
    items = list(items)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=False) as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def info() -> None:
    """Versions of key dependencies, the compute device, and the data sets found under INTERGRAPH_DATA."""
    import importlib.metadata as md
    import platform

    import torch

    from .data import DATASETS, available_datasets, data_root

    table = Table(title="intergraph", show_header=False)
    table.add_row("intergraph", md.version("intergraph"))
    table.add_row("python", platform.python_version())
    for pkg in ("torch", "torchvision", "torch-geometric", "numpy", "scipy", "gemmi", "lmdb", "typer"):
        try:
            table.add_row(pkg, md.version(pkg))
        except md.PackageNotFoundError:
            table.add_row(pkg, "[red]not installed[/red]")
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} device(s))"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = "mps"
    else:
        device = f"cpu ({torch.get_num_threads()} threads)"
    table.add_row("device", device)
    table.add_row("INTERGRAPH_DATA", str(data_root()))
    for name, path in available_datasets().items():
        table.add_row(f"  {name}", f"[green]{path}[/green]" if path else f"[yellow]missing[/yellow] ({DATASETS[name].description})")
    console.print(table)


@data_app.command("fetch")
def data_fetch(
    name: str = typer.Argument(..., help="Data set to download (db5)."),
    to: Path = typer.Option(..., "--to", help="Folder to download into; the data set lands in DIR/<name>."),
) -> None:
    """Download a public data set, verifying every file's checksum; resumes an interrupted download."""
    from .fetch import FetchError, fetch, manifest_rows, SOURCES

    if name not in SOURCES:
        fail(f"no download source for {name!r}; fetchable: {', '.join(SOURCES)}")
    try:
        folder, got, kept = fetch(name, to, progress=lambda rows: progress_over(rows, f"fetch {name}"))
    except FetchError as e:
        fail(str(e))
    console.print(f"{name}: {got} downloaded, {kept} already present, {len(manifest_rows(SOURCES[name]))} verified "
                  f"in {folder}; set INTERGRAPH_DATA={Path(to).resolve()}")


@data_app.command("list")
def data_list() -> None:
    """Data sets found under INTERGRAPH_DATA."""
    info()


@protein_app.command("featurize")
def protein_featurize(
    inputs: List[Path] = typer.Argument(..., help="Structure files (PDB/mmCIF, optionally .gz) or folders."),
    out: Path = typer.Option(..., "--out", help="Folder for the graphs (<name>.pt) and manifest.jsonl."),
    edges: str = typer.Option("radius", help="radius or knn."),
    radius: float = typer.Option(8.0, help="Radius graph cutoff in Å (Cα)."),
    max_neighbors: int = typer.Option(32, help="Cap on neighbours per residue for the radius graph."),
    k: int = typer.Option(30, help="Neighbours per residue for the kNN graph."),
) -> None:
    """Featurize structures into residue graphs; bad files are skipped and listed at the end, reruns resume."""
    from .protein.batch import featurize_many
    from .protein.featurize import GraphConfig

    try:
        config = GraphConfig(edges=edges, radius=radius, max_neighbors=max_neighbors, k=k)
    except ValueError as e:
        fail(str(e))
    report = featurize_many(inputs, out, config, progress=lambda files: progress_over(files, "featurize"))
    console.print(f"{len(report.written)} written, {len(report.skipped)} already done, "
                  f"{len(report.failed)} failed -> {out}")
    for path, problem in report.failed:
        err.print(f"  [yellow]skipped[/yellow] {path}: {problem}", highlight=False, soft_wrap=True)
    if not report.written and not report.skipped:
        raise typer.Exit(1)


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Folder for the demo's tables."),
    split: str = typer.Option("test", help="DB5 split to featurize."),
    comparison: bool = typer.Option(True, help="Run the short interface comparison (about 10 CPU minutes)."),
    video: bool = typer.Option(True, help="Run the graph-operations search on synthetic videos (about 10 CPU "
                                          "minutes)."),
) -> None:
    """The main job on its built-in defaults: DB5.5 graphs and labels, PLM embeddings aligned onto them, the
    interface comparison with and without PLM features, then the video graph-operations search."""
    from .data import DatasetNotFound
    from .demo import comparison_summary, db5_summary, plm_summary, video_summary

    try:
        db5_summary(out, split, console=console, progress=progress_over)
        plm_summary(out, console=console, progress=progress_over)
        folder = comparison_summary(out, console=console) if comparison else None
    except DatasetNotFound as e:
        fail(str(e))
    video_folder = video_summary(out, console=console) if video else None
    root = out.resolve()
    console.print("[bold]written:[/bold]")
    for rel in ("db5_summary.csv", "db5_summary.json", "plm_alignment.csv", "plm_summary.json"):
        console.print(f"  {root / rel}")
    if folder is not None:
        for rel in ("summary.md", "summary.csv", "results.csv", "roc_curves.png", "plm_gain.png"):
            console.print(f"  {folder.resolve() / rel}")
    if video_folder is not None:
        for rel in ("summary.md", "results.csv", "analysis.json", "runs/adaptive/usage.png",
                    "runs/adaptive/examples.png", "runs/adaptive/structures.json"):
            console.print(f"  {video_folder.resolve() / rel}")


def _interface_config(encoder, plm, plm_model, plm_layers, fusion, label, epochs, batch_size, lr, seed, layers,
                      max_minutes, cache):
    from .protein.experiment import DataConfig, InterfaceRun, ModelConfig
    from .train.config import TrainConfig

    return InterfaceRun(
        data=DataConfig(plm=plm, plm_model=plm_model, plm_layers=plm_layers, label=label, cache_dir=str(cache)),
        model=ModelConfig(encoder=encoder, fusion=fusion, layers=layers),
        train=TrainConfig(monitor="val/auroc", mode="max", max_epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                          max_minutes=max_minutes),
    )


_PLM_HELP = "none, default (our own PLM), esm2_650m (the shared real ESM-2 650M embeddings) or a store path."


@protein_app.command("train")
def protein_train(
    out: Path = typer.Option(..., "--out", help="Run folder (config, checkpoints, logs, metrics); rerun to resume."),
    task: str = typer.Option("interface", help="Task: interface, docking or qa (docked-model quality)."),
    encoder: str = typer.Option("gvp", help="gvp, egnn or molformer."),
    plm: str = typer.Option("none", help=_PLM_HELP),
    plm_model: str = typer.Option("", help="Model id inside a store given as --plm PATH."),
    plm_layers: str = typer.Option("", help="Layer key inside a store given as --plm PATH."),
    fusion: str = typer.Option("project", help="replace, concat, project or gated."),
    label: str = typer.Option("heavy", help="Interface definition: heavy (any heavy atom < 6 Å) or ca (Cα < 8 Å)."),
    form: str = typer.Option("b", help="Input structures: b (bound) or u (unbound; labels transferred by alignment)."),
    epochs: int = typer.Option(50), batch_size: int = typer.Option(8), lr: float = typer.Option(1e-4),
    seed: int = typer.Option(0), layers: Optional[int] = typer.Option(None, help="Encoder layers (default per encoder)."),
    max_minutes: float = typer.Option(0.0, help="Wall-time cap for training (0: none)."),
    cache: Path = typer.Option(Path("cache"), help="Graph and embedding cache folder."),
    keypoints: int = typer.Option(8, help="Docking: keypoints per partner."),
    ot_weight: float = typer.Option(1.0, help="Docking: weight of the keypoint/pocket optimal-transport loss."),
    clash_weight: float = typer.Option(0.0, help="Docking: weight of the intersection (clash) loss."),
    decoys_per_target: int = typer.Option(6, help="QA: rigid perturbation decoys per training/validation target."),
    surface_decoys: int = typer.Option(4, help="QA: random surface-contact (wrong-site) poses per training/validation "
                                               "target."),
    clash_decoys: int = typer.Option(2, help="QA: random interpenetrating poses per training/validation target."),
    docking_run: Optional[Path] = typer.Option(None, help="QA: add this docking run's test predictions as decoys."),
    source: str = typer.Option("lba_toy", help="Affinity: lba_toy, a folder in its layout, or Atom3D LBA LMDB(s)."),
    folds: int = typer.Option(5, help="Affinity: cross-validation folds (when the source has no splits)."),
) -> None:
    """Train one model on DB5.5 (EquiDock split); parameter counts are printed, test metrics saved.

    Docking is evaluated on EquiDock's test protocol (randomly moved inputs, scored like the baselines)."""
    from .protein.experiment import train_interface

    if task not in ("interface", "docking", "qa", "affinity"):
        fail(f"task {task!r} is not available yet; available: interface, docking, qa, affinity")
    cfg = _interface_config(encoder, plm, plm_model, plm_layers, fusion, label, epochs, batch_size, lr, seed, layers,
                            max_minutes, cache)
    cfg.data.form = form
    try:
        if task == "docking":
            from .protein.dock import DockingConfig, DockingRun, train_docking

            cfg.train.monitor, cfg.train.mode = "val/crmsd_median", "min"
            cfg = DockingRun(cfg.data, cfg.model, DockingConfig(keypoints, ot_weight, clash_weight), cfg.train)
            result = train_docking(cfg, out, log=console.print)
        elif task == "affinity":
            from .protein.affinity import AffinityData, AffinityRun, train_affinity
            from .protein.experiment import ModelConfig

            cfg.train.monitor, cfg.train.mode = "val/rmse", "min"
            run = AffinityRun(AffinityData(source, plm, folds, cache_dir=str(cache)),
                              ModelConfig(encoder, fusion, layers, out_dim=64), cfg.train)
            result = train_affinity(run, out, log=console.print)
        elif task == "qa":
            from .protein.quality import QualityConfig, QualityRun, train_quality

            cfg.train.monitor, cfg.train.mode = "val/spearman", "max"
            quality = QualityConfig(decoys_per_target=decoys_per_target, surface_per_target=surface_decoys,
                                    clash_per_target=clash_decoys, docking_run=str(docking_run or ""))
            result = train_quality(QualityRun(cfg.data, cfg.model, quality, cfg.train), out, log=console.print)
        else:
            result = train_interface(cfg, out, log=console.print)
    except ValueError as e:
        fail(str(e))
    console.print_json(data=result)


@protein_app.command("evaluate")
def protein_evaluate(run: Path = typer.Argument(..., help="A run folder written by `intergraph protein train`.")) -> None:
    """Evaluate a run's best checkpoint on its validation and test complexes."""
    import yaml

    from .protein.experiment import evaluate_model, load_run

    if not (run / "config.yaml").exists() or not (run / "checkpoints" / "best.ckpt").exists():
        fail(f"{run}: not a finished run folder (needs config.yaml and checkpoints/best.ckpt)")
    kind = yaml.safe_load((run / "config.yaml").read_text())
    if "docking" in kind:
        return _evaluate_docking(run)
    if "quality" in kind:
        return _evaluate_quality(run)
    cfg, model, data, task = load_run(run)
    table = Table(title=f"{run}: {cfg.model.encoder} + PLM {cfg.data.plm}")
    for col in ("split", "complexes", "residues", "AUROC", "AUPRC", "median per-complex AUROC"):
        table.add_column(col)
    for split in ("val", "test"):
        m, _ = evaluate_model(model, data[split], task)
        table.add_row(split, str(m["complexes"]), str(m["residues"]), f"{m['auroc']:.4f}", f"{m['auprc']:.4f}",
                      f"{m['median_group_auroc']:.4f}")
    console.print(table)


def _evaluate_docking(run: Path) -> None:
    from .protein.dock import evaluate_protocol, load_docking_run, split_ids

    cfg, model, db5 = load_docking_run(run)
    ids = split_ids(cfg, db5)["test"]
    summary = evaluate_protocol(model, db5, ids, run / "test_predictions", log=console.print)
    table = Table(title=f"{run}: docking, {cfg.model.encoder} + PLM {cfg.data.plm}, EquiDock test protocol "
                        f"({len(ids)} complexes)")
    for col in ("metric", "median", "mean", "std"):
        table.add_column(col)
    for key, s in summary.items():
        table.add_row(key, *(f"{s[k]:.2f}" for k in ("median", "mean", "std")))
    console.print(table)
    console.print(f"predicted complexes: {run / 'test_predictions'}; per complex: {run / 'test_scores.csv'}")


def _evaluate_quality(run: Path) -> None:
    from .protein.quality import load_quality_run

    results = load_quality_run(run, log=console.print)
    table = Table(title=f"{run}: quality assessment (predicted vs true DockQ)")
    cols = ("pearson", "spearman", "kendall", "local_pearson", "local_spearman", "local_kendall", "rmse", "top1_dockq")
    table.add_column("decoys")
    for c in cols:
        table.add_column(c.replace("_", " "))
    rows = [("val", results["val"]), ("test", results["test"])]
    rows += [(f"test: {k}", v) for k, v in results["test_by_source"].items()]
    if "external" in results:
        rows.append(("external (HADDOCK)", results["external"]))
    for name, m in rows:
        table.add_row(name, *(f"{m[c]:.3f}" for c in cols))
    console.print(table)
    console.print(f"per decoy: {run / 'predictions_test.csv'}")


@protein_app.command("affinity")
def protein_affinity(
    pocket: Path = typer.Option(..., help="Binding-pocket residues (PDB/mmCIF)."),
    ligand: Path = typer.Option(..., help="Ligand (.sdf, or .mol2)."),
    model: Path = typer.Option(..., help="An affinity run (`intergraph protein train --task affinity`)."),
    protein: Optional[Path] = typer.Option(None, help="The whole protein (needed by models with PLM features)."),
) -> None:
    """Predicted binding affinity (pK) of one complex; a cross-validation run averages its fold models."""
    from .protein.affinity import predict_affinity
    from .protein.structure import StructureError

    try:
        result = predict_affinity(model, pocket, ligand, protein)
    except (ValueError, FileNotFoundError, StructureError) as e:
        fail(str(e))
    console.print(f"predicted pK {result['pK']:.2f} (models: {', '.join(f'{p:.2f}' for p in result['per_model'])})")


@protein_app.command("dock")
def protein_dock(
    receptor: Path = typer.Option(..., help="Receptor structure (PDB/mmCIF, optionally .gz); written unchanged."),
    ligand: Path = typer.Option(..., help="Ligand structure, in any pose."),
    model: Path = typer.Option(..., help="A docking run folder (`intergraph protein train --task docking`)."),
    out: Path = typer.Option(..., help="PDB file of the docked complex (receptor, then the moved ligand)."),
    rename_chains: bool = typer.Option(False, help="Give ligand chains that clash with receptor chain ids free ids."),
) -> None:
    """Dock a ligand onto a receptor with a trained model (rigid body; the receptor stays where it is)."""
    from .protein.dock import dock_files
    from .protein.structure import StructureError

    try:
        result = dock_files(model, receptor, ligand, out, rename_chains)
    except (ValueError, FileNotFoundError, StructureError) as e:
        fail(str(e))
    for old, new in result["renamed_ligand_chains"].items():
        err.print(f"ligand chain {old} written as chain {new}", highlight=False)
    console.print(f"-> {out.resolve()}")


@protein_app.command("score-docking")
def protein_score_docking(
    predictions: Path = typer.Argument(..., help="Folder of predicted complexes ({ID}_l_b_<METHOD>.pdb[.gz])."),
    truth: Path = typer.Option(..., help="Folder of ground-truth complexes ({ID}_{l,r}_b_COMPLEX.pdb[.gz])."),
    out: Optional[Path] = typer.Option(None, help="CSV of the per-complex scores (and a .json summary beside it)."),
) -> None:
    """Docking quality of predicted complexes: EquiDock's CRMSD/IRMSD and CAPRI fnat, iRMSD, LRMSD, DockQ."""
    import csv
    import json

    from .protein.docking_metrics import score_folder, summarize

    if not predictions.is_dir() or not truth.is_dir():
        fail(f"{predictions if not predictions.is_dir() else truth}: not a folder")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), console=err) as bar:
        task = bar.add_task("scoring", total=sum(1 for p in predictions.iterdir() if "_l_b" in p.name))
        rows, skipped = score_folder(predictions, truth, on_item=lambda: bar.advance(task))
    for name, why in skipped:
        err.print(f"skipped {name}: {why}", highlight=False, soft_wrap=True)
    if not rows:
        fail(f"{predictions}: no predicted complex could be scored", code=1)
    table = Table(title=f"{predictions}: {len(rows)} complexes")
    for col in ("metric", "median", "mean", "std"):
        table.add_column(col)
    summary = {}
    for key in ("crmsd", "irmsd", "fnat", "dockq_irmsd", "dockq_lrmsd", "dockq"):
        summary[key] = summarize(r[key] for r in rows)
        table.add_row(key, *(f"{summary[key][k]:.2f}" for k in ("median", "mean", "std")))
    console.print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        out.with_suffix(".json").write_text(json.dumps({"summary": summary, "skipped": skipped}, indent=1))
        console.print(f"-> {out.resolve()}")


@protein_app.command("compare")
def protein_compare(
    out: Path = typer.Option(..., "--out", help="Folder for runs, tables and figures; rerun to resume."),
    task: str = typer.Option("interface"),
    encoders: str = typer.Option("gvp,egnn,molformer"),
    plm: str = typer.Option("none,esm2_650m,default", help="Comma-separated PLM arms."),
    seeds: int = typer.Option(3), folds: int = typer.Option(5),
    fusion: str = typer.Option("project"), label: str = typer.Option("heavy"),
    epochs: int = typer.Option(50), batch_size: int = typer.Option(8), lr: float = typer.Option(1e-4),
    layers: Optional[int] = typer.Option(None), max_minutes: float = typer.Option(0.0, help="Per run."),
    max_complexes: Optional[int] = typer.Option(None, help="Use only the N smallest complexes of the pool."),
    cache: Path = typer.Option(Path("cache")),
) -> None:
    """Train every encoder x PLM arm x seed (x fold) on paired complexes; write tables (and figures).

    interface: k-fold over the complexes every arm can serve. docking / qa: the EquiDock split; each PLM arm
    is paired with a no-PLM run on the complexes it covers. affinity: k-fold on lba_toy, arms none/default."""
    from .protein.compare import run_comparison

    base = _interface_config("gvp", "none", "", "", fusion, label, epochs, batch_size, lr, 0, layers, max_minutes, cache)
    if task in ("docking", "qa", "affinity"):
        from .protein.task_compare import run_task_comparison

        base.train.monitor, base.train.mode = {"docking": ("val/crmsd_median", "min"), "qa": ("val/spearman", "max"),
                                               "affinity": ("val/rmse", "min")}[task]
        try:
            run_task_comparison(task, base.model, base.train, encoders.split(","), plm.split(","), seeds, out,
                                str(cache), log=console.print)
        except ValueError as e:
            fail(str(e))
        console.print((out / "summary.md").read_text())
        return
    if task != "interface":
        fail(f"unknown task {task!r}; available: interface, docking, qa, affinity")
    run_comparison(base, encoders.split(","), plm.split(","), seeds, folds, out, log=console.print,
                   max_complexes=max_complexes)
    console.print((out / "summary.md").read_text())
    console.print(f"figures: {out / 'roc_curves.png'}, {out / 'plm_gain.png'}")


def report_failures(failed: list[tuple[str, str]]) -> None:
    for path, problem in failed:
        err.print(f"  [yellow]skipped[/yellow] {path}: {problem}", highlight=False, soft_wrap=True)


@plm_app.command("embed")
def plm_embed(
    store: Path = typer.Option(..., "--store", help="Embedding store folder (LMDB); created if absent."),
    model: str = typer.Option("esm2_t4_128D_intergraph", help="ESM-2 name (looked up in the usual caches) or path."),
    fasta: Optional[Path] = typer.Option(None, help="Sequences to embed."),
    structures: Optional[List[Path]] = typer.Option(None, help="Structure files or folders: every polymer chain."),
    layers: str = typer.Option("last", help="last, N, N,M (concatenated) or meanK (mean of the last K)."),
    token_budget: int = typer.Option(0, help="Padded tokens per batch; 0: 16,384 on a GPU, one sequence at a "
                                             "time on a CPU (where batching is slower)."),
    window: int = typer.Option(1022, help="Longest piece the model sees; longer sequences are windowed."),
    overlap: int = typer.Option(256, help="Overlap of consecutive windows (averaged)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]."),
) -> None:
    """Embed sequences into the store; reruns skip what is stored, a kill loses at most one batch."""
    import torch

    from .protein.fasta import FastaError, read_fasta
    from .protein.plm.backends import PLMBackendError, PLMNotFound, load_plm
    from .protein.plm.extract import LayerSpec
    from .protein.plm.pipeline import JobReport, embed_to_store, sequences_from_structures
    from .protein.plm.store import EmbeddingStore

    if (fasta is None) == (not structures):
        fail("give exactly one of --fasta or --structures")
    report = JobReport()
    try:
        named = list(read_fasta(fasta)) if fasta else sequences_from_structures(structures, report)
        spec = LayerSpec.parse(layers)
        plm = load_plm(model)
    except (FastaError, ValueError, PLMNotFound, PLMBackendError) as e:
        fail(str(e))
    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    plm.module.to(dev)
    with EmbeddingStore(store) as db, Progress(TextColumn("[bold]embed"), BarColumn(), MofNCompleteColumn(),
                                               TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task("embed", total=None)
        embed_to_store(plm, named, db, spec, token_budget, window, overlap,
                       progress=lambda done, total: bar.update(task, completed=done, total=total), report=report)
    console.print(f"{plm.id} layers {spec.key(plm.num_layers)}: {report.done} embedded, {report.skipped} already "
                  f"stored, {len(report.failed)} inputs skipped -> {store}")
    report_failures(report.failed)
    if not report.done and not report.skipped:
        raise typer.Exit(1)


@plm_app.command("import")
def plm_import(
    paths: List[Path] = typer.Argument(..., help="Files or folders of .npz (seq, emb) or `esm extract` .pt files."),
    store: Path = typer.Option(..., "--store", help="Embedding store folder."),
    model: str = typer.Option(..., help="Model id the embeddings came from, e.g. esm2_t33_650M_UR50D."),
    layers: Optional[str] = typer.Option(None, help="Layer key; .npz files need it (default: the model's last "
                                                     "layer for ESM-2 names), .pt files hold their layers."),
    fasta: Optional[Path] = typer.Option(None, help="Sequences of `esm extract` outputs (they store none)."),
) -> None:
    """Import embeddings computed elsewhere, read without unpickling arbitrary objects."""
    from .protein.fasta import FastaError
    from .protein.plm.pipeline import import_to_store
    from .protein.plm.registry import ESM2
    from .protein.plm.store import EmbeddingStore

    if layers is None and model in ESM2:
        layers = str(ESM2[model].layers)
    try:
        with EmbeddingStore(store) as db:
            report = import_to_store(paths, db, model, layers, fasta)
    except FastaError as e:
        fail(str(e))
    console.print(f"{report.done} files imported into {store}, {len(report.failed)} skipped")
    report_failures(report.failed)
    if not report.done:
        raise typer.Exit(1)


@plm_app.command("ls")
def plm_ls(store: Path = typer.Option(..., "--store", help="Embedding store folder.")) -> None:
    """Models, layers, counts and sizes in a store."""
    from .protein.plm.store import EmbeddingStore, StoreError

    try:
        with EmbeddingStore(store, readonly=True) as db:
            rows = db.summary()
    except StoreError as e:
        fail(str(e))
    table = Table(title=str(store))
    for col in ("model", "layers", "sequences", "residues", "dim", "MB"):
        table.add_column(col, justify="left" if col in ("model", "layers") else "right")
    for r in rows:
        table.add_row(r.model, r.layers, str(r.count), str(r.residues), str(r.dim), f"{r.bytes / 1e6:.1f}")
    console.print(table)


@plm_app.command("download")
def plm_download(
    name: str = typer.Argument(..., help="ESM-2 name, e.g. esm2_t33_650M_UR50D."),
    to: Path = typer.Option(Path.home() / ".cache" / "intergraph" / "plm", "--to", help="Destination folder."),
) -> None:
    """Download ESM-2 weights (online users); every file is verified against the server's checksum."""
    from .fetch import FetchError
    from .protein.plm.download import download_esm2

    try:
        folder = download_esm2(name, to, report=console.print)
    except FetchError as e:
        fail(str(e))
    console.print(f"use it with --model {folder}")


@plm_app.command("pretrain")
def plm_pretrain(
    fasta: Path = typer.Option(..., help="Training sequences (FASTA, may be gzipped)."),
    out: Path = typer.Option(..., "--out", help="Run folder: config, metrics, checkpoints, exported weights."),
    layers: int = typer.Option(4), dim: int = typer.Option(128), heads: int = typer.Option(8),
    steps: int = typer.Option(2000, help="Length of the learning-rate schedule."),
    stop_step: int = typer.Option(0, help="Stop at this step on the same schedule (0: at --steps)."),
    minutes: float = typer.Option(0.0, help="Wall-time cap (0: none)."),
    crop: int = typer.Option(256), tokens_per_batch: int = typer.Option(8192), lr: float = typer.Option(2e-3),
    seed: int = typer.Option(0),
) -> None:
    """Train an ESM-2-architecture masked language model; rerun the same command to resume."""
    from .protein.fasta import FastaError
    from .protein.plm.pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(fasta=str(fasta), out=str(out), layers=layers, dim=dim, heads=heads, steps=steps,
                         stop_step=stop_step, minutes=minutes, crop=crop, tokens_per_batch=tokens_per_batch, lr=lr, seed=seed)
    with Progress(TextColumn("[bold]pretrain"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                  TimeRemainingColumn(), console=err) as bar:
        task = bar.add_task("pretrain", total=steps, loss="-")

        def on_step(step, loss):
            bar.update(task, completed=step, loss=f"{loss:.3f}")

        try:
            final = pretrain(cfg, progress=lambda total, start: on_step, log=lambda m: bar.console.print(m))
        except (FastaError, ValueError) as e:
            fail(str(e))
    console.print(final)


def main() -> None:  # pragma: no cover - console script
    app()


@video_app.command("synth")
def video_synth(
    out: Path = typer.Option(..., help="Dataset folder (frames, boxes, labels, splits); rerun to resume."),
    n: int = typer.Option(1100, "--n", help="Number of videos (labels cycle through the classes)."),
    seed: int = typer.Option(0), frames: int = typer.Option(16), size: int = typer.Option(112),
    distractors: int = typer.Option(2, help="At most this many static distractor objects per video."),
) -> None:
    """Write synthetic interaction videos in the Something-Something / Something-Else layout."""
    from .video.something import write_synthetic
    from .video.synthetic import CLASSES, SyntheticConfig

    cfg = SyntheticConfig(frames=frames, size=size, distractors=distractors, seed=seed)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err) as bar:
        task = bar.add_task("rendering", total=n)
        write_synthetic(out, n, cfg, on_video=lambda: bar.advance(task))
    console.print(f"{n} videos of {len(CLASSES)} classes -> {out.resolve()}")


@video_app.command("extract")
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

    from .video.io import VideoDataError
    from .video.nodes import NodeConfig
    from .video.something import ClipSpec
    from .video.store import extract_store

    if boxes not in ("annotations", "proposals", "grid"):
        fail(f"--boxes must be annotations, proposals or grid, not {boxes!r}")
    try:
        index = extract_store(data, out, NodeConfig(backbone=backbone, weights=str(weights) if weights else None,
                                                    nodes_per_frame=nodes_per_frame),
                              ClipSpec(frames, size, boxes, missing, template=template, start=start,
                                       top=nodes_per_frame, test_clips=test_clips, train_clips=train_clips,
                                       seed=seed), seed,
                              device="cuda" if torch.cuda.is_available() else "cpu", log=console.print)
    except (ValueError, VideoDataError, FileNotFoundError) as e:
        fail(str(e))
    console.print(f"train {len(index['splits']['train'])} / val {len(index['splits']['val'])} / test "
                  f"{len(index['splits']['test'])} videos -> {out.resolve()}")


@video_app.command("proposals")
def video_proposals(
    data: Path = typer.Option(..., help="Dataset folder (as for `video extract`)."),
    weights: Optional[Path] = typer.Option(None, help="Detector weights: a torchvision state dict (no download)."),
    out: Optional[Path] = typer.Option(None, help="Proposals JSON (paper format); default DATA/proposals.json."),
    detector: str = typer.Option("fasterrcnn_resnet50_fpn", help="torchvision Faster R-CNN variant."),
    top: int = typer.Option(10, help="Proposals kept per frame (the paper: 10 object nodes)."),
) -> None:
    """Region proposals for every frame of every video, once; then `video extract --boxes proposals`."""
    import torch

    from .video.io import VideoDataError
    from .video.proposals import load_detector, write_proposals
    from .video.something import dataset_videos

    out = out or data / "proposals.json"
    try:
        model = load_detector(detector, weights, top)
        if torch.cuda.is_available():
            model = model.cuda()
        videos = dataset_videos(data)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err) as bar:
            task = bar.add_task("proposals", total=len(videos))
            result = write_proposals(videos, model, out, on_video=lambda: bar.advance(task), log=console.print)
    except (ValueError, VideoDataError, FileNotFoundError) as e:
        fail(str(e))
    console.print(f"proposals of {result['videos']} videos -> {out.resolve()}")


@video_app.command("evaluate")
def video_evaluate(run: Path = typer.Argument(..., help="A `video search` run folder.")) -> None:
    """Top-1 / top-5 of a search run's adaptive model on its test videos (multi-clip scores averaged)."""
    from .video.experiment import evaluate_run

    try:
        r = evaluate_run(run)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    console.print(f"{run}: {r['videos']} test videos, top-1 {r['test/top1']:.4f}, top-5 {r['test/top5']:.4f}")


@video_app.command("search")
def video_search(
    out: Path = typer.Option(..., help="Run folder; rerun to resume."),
    data: str = typer.Option("synthetic", help="synthetic, a dataset folder (video synth layout), a feature store "
                                               "(intergraph video extract) or a feature file."),
    features: Optional[Path] = typer.Option(None, help="A feature store from `intergraph video extract` (same as "
                                                       "--data STORE)."),
    videos: int = typer.Option(1100, help="Synthetic: number of videos."),
    ops: str = typer.Option("basic", help="Candidate operations: basic, paper (composites) or a comma list."),
    epochs: int = typer.Option(18), batch_size: int = typer.Option(16), width: int = typer.Option(128),
    steps: int = typer.Option(3, help="Intermediate nodes per cell."), cells: int = typer.Option(1),
    weight_optimizer: str = typer.Option("adam", help="adam, or sgd as in the paper."),
    lr: float = typer.Option(3e-3, help="Learning rate of the network weights."),
    structure_lr: float = typer.Option(3e-3, help="Adam learning rate of the structure parameters."),
    diversity: float = typer.Option(0.1, help="Weight of the diversity loss."),
    warmup: int = typer.Option(4, help="Epochs of weight training before structure updates."),
    baselines: bool = typer.Option(True, help="Also train global-alpha DARTS and every single operation."),
    fixed: Optional[Path] = typer.Option(None, help="Train only this derived structure (JSON), no search."),
    descriptor: str = typer.Option("background", help="What predicts each video's structure: background (the "
                                   "paper) or motion (background + objects and their change over the clip)."),
    backbone: str = typer.Option("small3d", help="small3d, r3d_18, r2plus1d_18 or mc3_18."),
    weights: Optional[Path] = typer.Option(None, help="Backbone weights (a state dict); random init without."),
    seed: int = typer.Option(0),
) -> None:
    """Search adaptive graph-operation structures (Li et al., CVPR 2020), compare with fixed ones and DARTS."""
    from .search.structure import Structure
    from .video.experiment import VideoDataConfig, VideoSearchRun, run_search
    from .video.model import VideoModelConfig
    from .video.nodes import NodeConfig
    from .video.something import VideoDataError
    from .video.synthetic import SyntheticConfig
    from .train.config import TrainConfig
    from .train.search import SearchConfig

    data = str(features) if features is not None else data
    try:
        run = VideoSearchRun(
            data=VideoDataConfig(source=data, videos=videos, synthetic=SyntheticConfig(seed=seed),
                                 nodes=NodeConfig(backbone=backbone, weights=str(weights) if weights else None)),
            model=VideoModelConfig(width=width, ops=ops, steps=steps, cells=cells, descriptor=descriptor),
            train=TrainConfig(max_epochs=epochs, batch_size=batch_size, monitor="val/top1", mode="max",
                              early_stop_patience=10, seed=seed),
            search=SearchConfig(weight_optimizer=weight_optimizer, weight_lr=lr, structure_lr=structure_lr,
                                diversity_weight=diversity, warmup_epochs=warmup))
        run_search(run, out, baselines=baselines, log=console.print, progress=True,
                   fixed=Structure.load(fixed) if fixed else None)
    except (ValueError, VideoDataError, FileNotFoundError) as e:
        fail(str(e))
    console.print((out / "summary.md").read_text())
    for rel in ("summary.md", "results.csv", "analysis.json", "runs/adaptive/usage.png", "runs/adaptive/examples.png",
                "runs/adaptive/structures.json"):
        console.print(f"  {(out / rel).resolve()}")
