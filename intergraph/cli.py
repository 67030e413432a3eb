"""The ``intergraph`` command: one entry point, a subcommand per job."""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)

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
app.add_typer(data_app, name="data")
app.add_typer(protein_app, name="protein")
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
) -> None:
    """The main job on its built-in default: featurize the DB5.5 test split and summarise it."""
    from .data import DatasetNotFound
    from .demo import db5_summary

    try:
        db5_summary(out, split, console=console, progress=progress_over)
    except DatasetNotFound as e:
        fail(str(e))


def main() -> None:  # pragma: no cover - console script
    app()
