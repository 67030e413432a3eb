"""``intergraph plm``: protein language models — embeddings into the store, imports, listing, downloads of real
ESM-2 weights (online users), and pretraining our own small PLM."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ...errors import InputError
from ...terminal import App, console, progress_bar, report_failures

app = App(help="Protein language models: embeddings, the embedding store, pretraining.")


@app.command("embed")
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

    from ..fasta import read_fasta
    from .backends import load_plm
    from .extract import LayerSpec
    from .pipeline import JobReport, embed_to_store, sequences_from_structures
    from .store import EmbeddingStore

    if (fasta is None) == (not structures):
        raise InputError("give exactly one of --fasta or --structures")
    report = JobReport()
    named = list(read_fasta(fasta)) if fasta else sequences_from_structures(structures, report)
    spec = LayerSpec.parse(layers)
    plm = load_plm(model)
    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    plm.module.to(dev)
    with EmbeddingStore(store) as db, progress_bar() as bar:
        task = bar.add_task("embed", total=None)
        embed_to_store(plm, named, db, spec, token_budget, window, overlap,
                       progress=lambda done, total: bar.update(task, completed=done, total=total), report=report)
    console.print(f"{plm.id} layers {spec.key(plm.num_layers)}: {report.done} embedded, {report.skipped} already "
                  f"stored, {len(report.failed)} inputs skipped -> {store}")
    report_failures(report.failed, done=report.done + report.skipped)


@app.command("import")
def plm_import(
    paths: List[Path] = typer.Argument(..., help="Files or folders of .npz (seq, emb) or `esm extract` .pt files."),
    store: Path = typer.Option(..., "--store", help="Embedding store folder."),
    model: str = typer.Option(..., help="Model id the embeddings came from, e.g. esm2_t33_650M_UR50D."),
    layers: Optional[str] = typer.Option(None, help="Layer key; .npz files need it (default: the model's last "
                                                     "layer for ESM-2 names), .pt files hold their layers."),
    fasta: Optional[Path] = typer.Option(None, help="Sequences of `esm extract` outputs (they store none)."),
) -> None:
    """Import embeddings computed elsewhere, read without unpickling arbitrary objects."""
    from .pipeline import import_to_store
    from .registry import ESM2
    from .store import EmbeddingStore

    if layers is None and model in ESM2:
        layers = str(ESM2[model].layers)
    with EmbeddingStore(store) as db:
        report = import_to_store(paths, db, model, layers, fasta)
    console.print(f"{report.done} files imported into {store}, {len(report.failed)} skipped")
    report_failures(report.failed, done=report.done)


@app.command("ls")
def plm_ls(store: Path = typer.Option(..., "--store", help="Embedding store folder.")) -> None:
    """Models, layers, counts and sizes in a store."""
    from .store import EmbeddingStore

    with EmbeddingStore(store, readonly=True) as db:
        rows = db.summary()
    table = Table(title=str(store))
    for col in ("model", "layers", "sequences", "residues", "dim", "MB"):
        table.add_column(col, justify="left" if col in ("model", "layers") else "right")
    for r in rows:
        table.add_row(r.model, r.layers, str(r.count), str(r.residues), str(r.dim), f"{r.bytes / 1e6:.1f}")
    console.print(table)


@app.command("download")
def plm_download(
    name: str = typer.Argument(..., help="ESM-2 name, e.g. esm2_t33_650M_UR50D."),
    to: Path = typer.Option(Path.home() / ".cache" / "intergraph" / "plm", "--to", help="Destination folder."),
) -> None:
    """Download ESM-2 weights (online users); every file is verified against the server's checksum."""
    from .download import download_esm2

    folder = download_esm2(name, to, report=console.print)
    console.print(f"use it with --model {folder}")


@app.command("pretrain")
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
    from .pretrain import PretrainConfig, pretrain

    cfg = PretrainConfig(fasta=str(fasta), out=str(out), layers=layers, dim=dim, heads=heads, steps=steps,
                         stop_step=stop_step, minutes=minutes, crop=crop, tokens_per_batch=tokens_per_batch, lr=lr,
                         seed=seed)
    with progress_bar(fields="loss {task.fields[loss]}") as bar:
        task = bar.add_task("pretrain", total=steps, loss="-")

        def on_step(step, loss):
            bar.update(task, completed=step, loss=f"{loss:.3f}")

        final = pretrain(cfg, progress=lambda total, start: on_step, log=lambda m: bar.console.print(m))
    console.print(final)
