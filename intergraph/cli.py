"""The ``intergraph`` command: ``info``, ``data`` and ``demo`` here; each domain mounts its own commands
(``protein``, ``plm``, ``video``). Every command reports an :class:`IntergraphError` as one line."""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")  # lightning vs torch 2.14

from pathlib import Path  # noqa: E402

import typer  # noqa: E402
from rich.table import Table  # noqa: E402

from .protein.cli import app as protein_app  # noqa: E402
from .protein.plm.cli import app as plm_app  # noqa: E402
from .terminal import App, console, progress_over  # noqa: E402
from .video.cli import app as video_app  # noqa: E402

app = App(help="Learning interactions on graphs: proteins and videos.")
data_app = App(help="Find and fetch data sets.")
app.add_typer(data_app, name="data")
app.add_typer(protein_app, name="protein")
app.add_typer(plm_app, name="plm")
app.add_typer(video_app, name="video")


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
        found = f"[green]{path}[/green]" if path else f"[yellow]missing[/yellow] ({DATASETS[name].description})"
        table.add_row(f"  {name}", found)
    console.print(table)


@data_app.command("fetch")
def data_fetch(
    name: str = typer.Argument(..., help="Data set to download (db5)."),
    to: Path = typer.Option(..., "--to", help="Folder to download into; the data set lands in DIR/<name>."),
) -> None:
    """Download a public data set, verifying every file's checksum; resumes an interrupted download."""
    from .errors import InputError
    from .fetch import SOURCES, fetch, manifest_rows

    if name not in SOURCES:
        raise InputError(f"no download source for {name!r}; fetchable: {', '.join(SOURCES)}")
    folder, got, kept = fetch(name, to, progress=lambda rows: progress_over(rows, f"fetch {name}"))
    console.print(f"{name}: {got} downloaded, {kept} already present, {len(manifest_rows(SOURCES[name]))} verified "
                  f"in {folder}; set INTERGRAPH_DATA={Path(to).resolve()}")


@data_app.command("list")
def data_list() -> None:
    """Data sets found under INTERGRAPH_DATA."""
    info()


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Folder for the demo's tables."),
    split: str = typer.Option("test", help="DB5 split to featurize."),
    comparison: bool = typer.Option(True, help="Run the short interface comparison (about 10 CPU minutes)."),
    video: bool = typer.Option(True, help="Run every arm of the graph-operations search on the synthetic families "
                                          "benchmark (about 6 CPU minutes)."),
) -> None:
    """The main job on its built-in defaults: DB5.5 graphs and labels, PLM embeddings aligned onto them, the
    interface comparison with and without PLM features, then the video arms (adaptive structures and their
    references on the families benchmark)."""
    from .demo import comparison_summary, db5_summary, plm_summary, video_summary

    db5_summary(out, split, console=console, progress=progress_over)
    plm_summary(out, console=console, progress=progress_over)
    folder = comparison_summary(out, console=console) if comparison else None
    video_folder = video_summary(out, console=console) if video else None
    root = out.resolve()
    console.print("[bold]written:[/bold]")
    for rel in ("db5_summary.csv", "db5_summary.json", "plm_alignment.csv", "plm_summary.json"):
        console.print(f"  {root / rel}")
    if folder is not None:
        for rel in ("summary.md", "summary.csv", "results.csv", "gains.csv", "figure.png", "gains.png", "command.txt"):
            console.print(f"  {folder.resolve() / rel}")
    if video_folder is not None:
        for rel in ("summary.md", "summary.json", "results.csv", "command.txt", "seed0/adaptive/by_group/usage.png"):
            console.print(f"  {video_folder.resolve() / rel}")




def main() -> None:  # pragma: no cover - console script
    app()
