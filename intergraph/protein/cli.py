"""``intergraph protein``: structures -> graphs, and every registered task's train / evaluate / predict / compare.

The commands look tasks up in the registry; a task's own settings are reached with ``--set SECTION.NAME=VALUE``
(``intergraph protein tasks`` lists them), a whole run with ``--config run.yaml`` (every run folder holds one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.table import Table

from ..errors import InputError
from ..terminal import App, command_line, console, err, fail, progress_bar, progress_over, report_failures

app = App(help="Protein structures, graphs and models: train, evaluate, predict and compare every task.")

# options shared by `train` and `compare` (None: keep the config's value)
Task = Annotated[Optional[str], typer.Option(help="Task (`intergraph protein tasks` lists them); default: the "
                                                  "--config's task, else interface.")]
ConfigFile = Annotated[Optional[Path], typer.Option("--config", help="A run config (any run's config.yaml); "
                                                                    "options given here override it.")]
Data = Annotated[Optional[str], typer.Option(help="db5, a folder of pairs (<id>_r*.pdb / <id>_l*.pdb, mmCIF too; "
                                                  "DIPS layout), a CSV id,receptor,ligand[,split]; affinity: lba_toy, "
                                                  "a folder in its layout or Atom3D LBA LMDB(s).")]
Split = Annotated[Optional[str], typer.Option(help="auto (the source's lists, else random), given, random or kfold.")]
Folds = Annotated[Optional[int], typer.Option(help="k-fold: number of folds (one run per fold).")]
Form = Annotated[Optional[str], typer.Option(help="Input structures: b (bound) or u (unbound).")]
Label = Annotated[Optional[str], typer.Option(help="Interface definition: heavy (any heavy atom < 6 Å) or ca "
                                                   "(Cα < 8 Å).")]
PlmModel = Annotated[Optional[str], typer.Option(help="Model id inside a store given as --plm PATH.")]
PlmLayers = Annotated[Optional[str], typer.Option(help="Layer key inside a store given as --plm PATH.")]
Fusion = Annotated[Optional[str], typer.Option(help="replace, concat, project or gated.")]
Layers = Annotated[Optional[int], typer.Option(help="Encoder layers (default per encoder).")]
Epochs = Annotated[Optional[int], typer.Option(help="Most epochs (early stopping on the monitored metric).")]
Patience = Annotated[Optional[int], typer.Option(help="Early stopping: epochs without improvement.")]
BatchSize = Annotated[Optional[int], typer.Option()]
Lr = Annotated[Optional[float], typer.Option()]
Cache = Annotated[Optional[Path], typer.Option(help="Graph and embedding cache folder (default: cache).")]
Sets = Annotated[Optional[List[str]], typer.Option("--set", help="SECTION.NAME=VALUE, e.g. docking.keypoints=4 or "
                                                                 "quality.surface_per_target=0; repeatable.")]
Overwrite = Annotated[bool, typer.Option(help="Delete a run folder that holds another config and train anew.")]

PLM_HELP = "none, default (our own PLM), esm2_650m (the shared real ESM-2 650M embeddings) or a store path."


def build_config(task_name: Optional[str], config: Optional[Path], sets: Optional[List[str]], **options):
    """The run config: the task's defaults (or ``config``), then the options given, then ``--set``; the task is
    ``task_name``, else the config's, else interface."""
    from ..train.config import apply_overrides
    from .run import read_config
    from .tasks import task

    cfg = read_config(config) if config is not None else None
    spec = task(task_name or (cfg.task if cfg is not None else "interface"))
    cfg = cfg if cfg is not None else spec.default_config()
    if cfg.task != spec.name:
        raise InputError(f"{config} is a {cfg.task} config, not {spec.name}")
    where = {"data": "data.source", "split": "data.split", "folds": "data.folds", "split_seed": "data.split_seed",
             "form": "data.form", "label": "data.label", "plm": "data.plm", "plm_model": "data.plm_model",
             "plm_layers": "data.plm_layers", "cache": "data.cache_dir", "encoder": "model.encoder",
             "fusion": "model.fusion", "layers": "model.layers", "epochs": "train.max_epochs",
             "patience": "train.early_stop_patience", "batch_size": "train.batch_size", "lr": "train.lr",
             "seed": "train.seed"}
    assignments = [f"{where[k]}={v}" for k, v in options.items() if v is not None]
    return apply_overrides(cfg, assignments + list(sets or []))


@app.command("featurize")
def protein_featurize(
    inputs: List[Path] = typer.Argument(..., help="Structure files (PDB/mmCIF, optionally .gz) or folders."),
    out: Path = typer.Option(..., "--out", help="Folder for the graphs (<name>.pt) and manifest.jsonl."),
    edges: str = typer.Option("radius", help="radius or knn."),
    radius: float = typer.Option(8.0, help="Radius graph cutoff in Å (Cα)."),
    max_neighbors: int = typer.Option(32, help="Cap on neighbours per residue for the radius graph."),
    k: int = typer.Option(30, help="Neighbours per residue for the kNN graph."),
) -> None:
    """Featurize structures into residue graphs; bad files are skipped and listed at the end, reruns resume."""
    from .batch import featurize_many
    from .featurize import GraphConfig

    config = GraphConfig(edges=edges, radius=radius, max_neighbors=max_neighbors, k=k)
    report = featurize_many(inputs, out, config, progress=lambda files: progress_over(files, "featurize"))
    console.print(f"{len(report.written)} written, {len(report.skipped)} already done, "
                  f"{len(report.failed)} failed -> {out}")
    report_failures(report.failed, done=len(report.written) + len(report.skipped))


@app.command("tasks")
def protein_tasks() -> None:
    """The registered tasks: what each predicts, its monitored metric, its settings (for --set) and inputs."""
    from ..train.config import settings
    from .run import ProteinRun
    from .tasks import names, task

    shared = dict(settings(ProteinRun()))
    table = Table(title="settings every task has (--set NAME=VALUE)", title_justify="left")
    table.add_column("setting")
    table.add_column("default")
    for key, value in shared.items():
        if key != "task":
            table.add_row(key, repr(value))
    console.print(table)
    for name in names():
        spec = task(name)
        cfg = spec.default_config()
        own = [(k, v) for k, v in settings(cfg) if k not in ("task", "train.monitor", "train.mode")
               and (k not in shared or shared[k] != v)]
        console.print(f"\n[bold]{name}[/bold]: {spec.description}")
        console.print(f"  monitored: {cfg.train.monitor} ({cfg.train.mode}); table columns: {', '.join(spec.columns)}")
        console.print(f"  predict: {spec.predict_help}")
        for key, value in own:
            console.print(f"  {key} = {value!r}", highlight=False)


@app.command("train")
def protein_train(
    out: Path = typer.Option(..., "--out", help="Run folder (config, checkpoints, logs, metrics); rerun to resume."),
    task: Task = None, config: ConfigFile = None, data: Data = None, split: Split = None,
    folds: Folds = None,
    split_seed: Annotated[Optional[int], typer.Option(help="Seed of the random / k-fold split.")] = None,
    form: Form = None, label: Label = None,
    encoder: Annotated[Optional[str], typer.Option(help="gvp, egnn or molformer.")] = None,
    plm: Annotated[Optional[str], typer.Option(help=PLM_HELP)] = None,
    plm_model: PlmModel = None, plm_layers: PlmLayers = None, fusion: Fusion = None, layers: Layers = None,
    epochs: Epochs = None, patience: Patience = None, batch_size: BatchSize = None, lr: Lr = None,
    seed: Annotated[Optional[int], typer.Option()] = None, cache: Cache = None, set_: Sets = None,
    overwrite: Overwrite = False,
) -> None:
    """Train one model (or one per fold with --split kfold); parameter counts are printed, test metrics saved.

    Docking is tested on EquiDock's protocol where the source ships it (DB5.5), else on randomly moved inputs."""
    from .run import train

    cfg = build_config(task, config, set_, data=data, split=split, folds=folds, split_seed=split_seed, form=form,
                       label=label, encoder=encoder, plm=plm, plm_model=plm_model, plm_layers=plm_layers,
                       fusion=fusion, layers=layers, epochs=epochs, patience=patience, batch_size=batch_size, lr=lr,
                       seed=seed, cache=cache)
    result = train(cfg, out, log=console.print, overwrite=overwrite)
    console.print_json(data=result)


@app.command("evaluate")
def protein_evaluate(
    run: Path = typer.Argument(..., help="A run folder written by `intergraph protein train` (any task, k-fold too)."),
    data: Optional[str] = typer.Option(None, help="Another labelled source: every complex of it is test data."),
    out: Optional[Path] = typer.Option(None, help="Folder for the predictions (default RUN/evaluations/<name>)."),
    sets: Sets = None,
) -> None:
    """Evaluate a run's best model(s) on its own validation and test complexes, or on any labelled source;
    ``--set`` changes how the evaluation's data are made (e.g. quality.search_decoys=DIR), never the model."""
    from .run import evaluate

    result = evaluate(run, data, out, log=console.print, overrides=sets or [])
    folds = result.get("folds", [result])
    table = Table(title=f"{run}" + (f" on {data}" if data else ""))
    table.add_column("model")
    table.add_column("split")
    table.add_column("metrics")
    for k, r in enumerate(folds):
        for split, metrics in r.items():
            if isinstance(metrics, dict) and split != "standardisation":
                shown = ", ".join(f"{m} {_show(v)}" for m, v in metrics.items()
                                  if not isinstance(v, dict) or "median" in v)
                table.add_row(f"fold {k}" if len(folds) > 1 else "best", split, shown)
    console.print(table)


def _show(v) -> str:
    if isinstance(v, dict):
        return f"{v['median']:.4f} (median)"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


@app.command("predict")
def protein_predict(
    model: Path = typer.Option(..., help="A trained run folder (any task; a k-fold run averages its folds)."),
    out: Path = typer.Option(..., help="Folder for the prediction files."),
    receptor: Optional[Path] = typer.Option(None, help="Receptor structure (interface, docking, qa)."),
    ligand: Optional[Path] = typer.Option(None, help="Ligand: a protein structure, or for affinity runs the small "
                                                     "molecule (.sdf / .mol2)."),
    pairs: Optional[Path] = typer.Option(None, help="Many pairs: a CSV id,receptor,ligand or a folder of pairs."),
    models: Optional[Path] = typer.Option(None, help="QA: a folder of complex models to rank."),
    native: Optional[Path] = typer.Option(None, help="QA: the native complex, to score the ranking."),
    receptor_chains: str = typer.Option("", help="QA: receptor chain ids of complex files, e.g. AB."),
    ligand_chains: str = typer.Option("", help="QA: ligand chain ids of complex files."),
    pocket: Optional[Path] = typer.Option(None, help="Affinity: the binding-pocket residues."),
    protein: Optional[Path] = typer.Option(None, help="Affinity: the whole protein (PLM runs need it)."),
    rename_chains: bool = typer.Option(False, help="Docking: give ligand chains that clash with receptor ids free "
                                                   "ids."),
) -> None:
    """Predictions for new inputs with a trained run: interface probabilities (CSV + PDB B-factors), docked
    complexes, a QA ranking (CSV), or a pK."""
    from .run import predict
    from .tasks import PredictInputs

    inputs = PredictInputs(receptor, ligand, pairs, models, native, receptor_chains, ligand_chains, pocket, protein,
                           rename_chains)
    for path in predict(model, inputs, out, log=console.print):
        console.print(f"  {path.resolve()}")


@app.command("dock")
def protein_dock(
    receptor: Path = typer.Option(..., help="Receptor structure (PDB/mmCIF, optionally .gz); written unchanged."),
    ligand: Path = typer.Option(..., help="Ligand structure, in any pose."),
    out: Path = typer.Option(..., help="search: folder for rank01.pdb ... and poses.csv; regress: the PDB file of "
                                      "the docked complex."),
    method: str = typer.Option("search", help="search: global FFT search scored by the fitted terms; regress: a "
                                              "trained EquiDock-style docking run (--model)."),
    model: Optional[Path] = typer.Option(None, help="regress: a docking run folder (`protein train --task docking`); "
                                                    "search: an interface run whose probabilities restrain the "
                                                    "score (`protein train --task interface`)."),
    qa: Optional[Path] = typer.Option(None, help="search: a quality-assessment run (`protein train --task qa`) "
                                                 "that re-ranks the search's cluster heads by predicted DockQ."),
    top: int = typer.Option(10, min=1, help="search: ranked poses written."),
    step: float = typer.Option(15.0, help="search: angular step of the rotation set (degrees)."),
    rank_by: str = typer.Option("score", help="search: clusters ranked by best score (chosen on DB5.5 validation "
                                              "complexes) or by size (ClusPro)."),
    arm: Optional[str] = typer.Option(None, help="search: fitted score terms (shape, shape+pair, "
                                                 "shape+pair+restraint, shape+pair+interface and its -ownplm, "
                                                 "-esm2_650m variants); "
                                                 "default shape+pair, with --model the interface arm chosen for "
                                                 "the run's PLM."),
    device: str = typer.Option("cpu", help="search: torch device (cuda where a GPU exists)."),
    rename_chains: bool = typer.Option(False, help="Give ligand chains that clash with receptor chain ids free ids."),
) -> None:
    """Dock a ligand onto a receptor (rigid body; the receptor stays where it is)."""
    from .run import load_models
    from .tasks.docking.run import dock_files, search_files
    from .tasks.docking.search import DEFAULT_ARM, SearchConfig, interface_arm

    if method == "regress":
        if qa is not None:
            raise InputError("--qa re-ranks the search's poses: it needs --method search")
        if model is None:
            raise InputError("--method regress needs --model: a docking run folder")
        trained = load_models(model)
        if trained[0].cfg.task != "docking" or len(trained) != 1:
            raise InputError(f"{model}: not a single docking run (a k-fold run: pass one fold's folder)")
        result = dock_files(trained[0], receptor, ligand, out, rename_chains)
    elif method == "search":
        if model is not None:
            trained = load_models(model)
            if trained[0].cfg.task != "interface":
                raise InputError(f"{model}: a {trained[0].cfg.task} run; the search's restraints need an interface "
                                 "run")
            model = trained
        if qa is not None:
            qa = load_models(qa)
            if qa[0].cfg.task != "qa":
                raise InputError(f"{qa[0].folder}: a {qa[0].cfg.task} run; --qa needs a quality-assessment run")
        arm = arm or (interface_arm(model[0].cfg.data.plm) if model is not None else DEFAULT_ARM)
        try:
            result = search_files(receptor, ligand, out, SearchConfig(step=step, rank_by=rank_by), arm, top,
                                  rename_chains, torch_device(device), interface=model, qa=qa)
        except ValueError as e:
            raise InputError(str(e)) from None
    else:
        raise InputError(f"unknown --method {method!r}: search or regress")
    for old, new in result["renamed_ligand_chains"].items():
        err.print(f"ligand chain {old} written as chain {new}", highlight=False)
    console.print(f"-> {out.resolve()}")


def torch_device(name: str):
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA device here")
    return torch.device(name)


@app.command("dock-benchmark")
def protein_dock_benchmark(
    ctx: typer.Context,
    out: Path = typer.Option(..., help="Results folder (resumable: complexes already docked are reused)."),
    inputs: str = typer.Option("bound", help="bound: EquiDock's randomly moved bound partners; unbound: the _u files."),
    arms: str = typer.Option("shape,shape+pair", help="Comma-separated fitted arms."),
    step: float = typer.Option(15.0, help="Angular step of the rotation set (degrees)."),
    rank_by: str = typer.Option("score", help="The ranking named by the arm (the other is \"ARM, by size|score\"): "
                                              "score (the default of protein dock) or size (ClusPro; the "
                                              "default before 2026-12-03)."),
    top: int = typer.Option(10, min=1, help="Ranked poses scored per complex."),
    ids: Optional[str] = typer.Option(None, help="Comma-separated complex ids (default: every complex of --split)."),
    split: str = typer.Option("test", help="DB5.5 split (EquiDock's) when --ids is not given: test, or val for "
                                           "choices made before the test (bound files as inputs)."),
    interface: str = typer.Option("none", help="Probabilities of the interface terms (restraint, coupling): an "
                                               "interface run folder, or truth (the observed interface, an "
                                               "oracle; bound inputs only)."),
    qa: str = typer.Option("none", help="A quality-assessment run: each ranking also re-ranked by its predicted "
                                        "DockQ (\"RANKING + QA\")."),
    overwrite: bool = typer.Option(False, help="Recompute a folder made with another configuration."),
) -> None:
    """Docking by search on DB5.5 (test, or validation): success at top 1/5/10 (DockQ ≥ 0.23, ≥ 0.49), medians,
    the shipped methods on the same complexes; writes items/, rows.csv, summary.json, success.png, command.txt."""
    import csv
    import json

    from .db5 import DB5
    from .tasks.docking.benchmark import (
        FIELDS,
        SHIPPED,
        paired_success,
        plot_success,
        run_benchmark,
        shipped_rows,
        success_table,
    )
    from .tasks.docking.search import SearchConfig

    chosen = ids.split(",") if ids else DB5(split=split).ids
    arm_list = [a.strip() for a in arms.split(",") if a.strip()]
    try:
        rows, skipped = run_benchmark(chosen, arm_list, SearchConfig(step=step, rank_by=rank_by), out, inputs, top,
                                      overwrite=overwrite,
                                      interface=interface, qa=qa)
    except ValueError as e:
        raise InputError(str(e)) from None
    done = sorted({r["complex"] for r in rows})
    if inputs == "bound":
        rows = rows + shipped_rows(done)
    (out / "command.txt").write_text(command_line(ctx) + "\n")
    with open(out / "rows.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    ours = [a for a in dict.fromkeys(r["arm"] for r in rows) if a not in SHIPPED]
    # a re-ranked ranking against the ranking it re-ranks; every other against the first arm
    bases = {a: a.removesuffix(" + QA") if a.endswith(" + QA") else ours[0] for a in ours[1:]}
    summary = {"table": success_table(rows), "skipped": skipped,
               "paired": [paired_success(rows, a, b, n) for a, b in bases.items() for n in (1, 5, 10)]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_success(rows, out / "success.png")
    table = Table(title=f"{len(done)} DB5.5 complexes, {inputs} inputs, step {step}°")
    for c in ("arm", "top-1 ≥0.23", "top-5", "top-10", "top-1 ≥0.49", "median DockQ", "median iRMSD", "s/complex"):
        table.add_column(c)
    for arm, t in summary["table"].items():
        table.add_row(arm, *(f"{t[f'success@{n}_0.23']['rate']:.2f}" for n in (1, 5, 10)),
                      f"{t['success@1_0.49']['rate']:.2f}", f"{t['top1_dockq_median']:.3f}",
                      f"{t['top1_irmsd_median']:.2f}", f"{t['seconds_median']:.0f}")
    console.print(table)
    report_failures(skipped, len(done))


@app.command("dock-compare")
def protein_dock_compare(
    ctx: typer.Context,
    benchmarks: str = typer.Option(..., help="Comma-separated finished dock-benchmark folders, each LABEL=FOLDER "
                                             "or FOLDER (labelled by its name); the same search and inputs."),
    out: Path = typer.Option(..., help="Folder for summary.md, summary.json, rows.csv, success.png, command.txt."),
    base: Optional[str] = typer.Option(None, help="The arm every other is paired against (default: the first)."),
    arms: Optional[str] = typer.Option(None, help="Comma-separated arm names to keep (default: every arm as its "
                                                  "folder ranked it)."),
) -> None:
    """Paired comparison of docking benchmarks that differ in their interface source (no PLM, own PLM, ESM-2,
    observed): every arm on the complexes all folders hold, success at top 1/5/10 with intervals, paired
    differences against --base."""
    import csv
    import json

    from .tasks.docking.benchmark import FIELDS, plot_success
    from .tasks.docking.compare import compare, summary_lines

    folders = {}
    for item in (b.strip() for b in benchmarks.split(",") if b.strip()):
        label, _, folder = item.rpartition("=")
        folders[label or Path(folder).name] = folder
    result = compare(folders, base, arms.split(",") if arms else None)
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text(command_line(ctx) + "\n")
    rows = result.pop("rows")
    with open(out / "rows.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = summary_lines(result)
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    plot_success(rows, out / "success.png")
    console.print("\n".join(lines), markup=False, soft_wrap=True)
    console.print(f"-> {out.resolve()}")


@app.command("decoys")
def protein_decoys(
    ctx: typer.Context,
    out: Path = typer.Option(..., help="Decoy folder (resumable: targets already done are reused)."),
    data: str = typer.Option("db5", help="Pair source (a registered name or a folder in the pairs layout)."),
    ids: Optional[str] = typer.Option(None, help="Comma-separated target ids (default: every complex of --split)."),
    split: Optional[str] = typer.Option(None, help="The source's split to use (default: all its complexes)."),
    arm: str = typer.Option("shape+pair", help="Fitted weights of the search (without restraints)."),
    step: float = typer.Option(30.0, help="Angular step of the rotation set (degrees)."),
    sampled: int = typer.Option(300, min=0, help="Search poses per target across the score range."),
    heads: int = typer.Option(20, min=1, help="Refined cluster heads per ranking (size, score)."),
    inputs: str = typer.Option("bound", help="Partners searched: bound, or unbound (labels against the bound)."),
    overwrite: bool = typer.Option(False, help="Recompute a folder made with another configuration."),
) -> None:
    """Docking decoys for quality assessment from the global search, per target (bound partners, or the unbound
    structures): refined cluster heads, poses across the score range and the native funnel, labelled (fnat,
    iRMSD, LRMSD, DockQ) against the bound complex, and how reference-free baselines rank them; writes
    targets/{ID}.csv, summary.json, baselines/{ID}.csv, baselines.md, command.txt."""
    from .complexes import ComplexSet
    from .tasks.quality.baselines import folder_baselines
    from .tasks.quality.search_decoys import INPUTS, SearchDecoyConfig, build

    cset = ComplexSet(data, form="b")
    if split is not None and split not in cset.splits:
        raise InputError(f"{data}: no split {split!r}; splits: {', '.join(sorted(cset.splits)) or 'none'}")
    chosen = ids.split(",") if ids else (cset.splits[split] if split else cset.ids)
    unknown = [c for c in chosen if c not in set(cset.all_ids)]
    if unknown:
        raise InputError(f"{data}: unknown target ids {', '.join(unknown)}")
    cfg = SearchDecoyConfig(arm, step, sampled, heads, inputs)
    form = INPUTS[inputs]
    targets = {c: (lambda c=c: (cset.structure(c, "r", form), cset.structure(c, "l", form))) for c in chosen}
    natives = {c: (lambda c=c: (cset.structure(c, "r", "b"), cset.structure(c, "l", "b"))) for c in chosen}
    got, skipped = build(targets, cfg, out, overwrite, log=err.print, natives=natives if form != "b" else None)
    (out / "command.txt").write_text(command_line(ctx) + "\n")
    n = sum(len(v) for v in got.values())
    hit = sum(any(d.labels["dockq"] >= 0.23 for d in v if d.source != "near-native") for v in got.values())
    console.print(f"{n} decoys of {len(got)} targets -> {out}; the search found an acceptable pose (DockQ ≥ 0.23) "
                  f"for {hit} of them")
    if got:
        lines = folder_baselines(got, targets, out)
        (out / "baselines.md").write_text("\n".join(lines) + "\n")
        console.print("\n".join(lines))
    report_failures(skipped, len(got))


@app.command("score-docking")
def protein_score_docking(
    predictions: Path = typer.Argument(..., help="Folder of predicted complexes ({ID}_l_b_<METHOD>.pdb[.gz])."),
    truth: Path = typer.Option(..., help="Folder of ground-truth complexes ({ID}_{l,r}_b_COMPLEX.pdb[.gz])."),
    out: Optional[Path] = typer.Option(None, help="CSV of the per-complex scores (and a .json summary beside it)."),
) -> None:
    """Docking quality of predicted complexes: EquiDock's CRMSD/IRMSD and CAPRI fnat, iRMSD, LRMSD, DockQ."""
    import csv
    import json

    from .docking_metrics import score_folder, summarize

    if not predictions.is_dir() or not truth.is_dir():
        fail(f"{predictions if not predictions.is_dir() else truth}: not a folder")
    with progress_bar() as bar:
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


@app.command("score-models")
def protein_score_models(
    models: Path = typer.Argument(..., help="Folder of single-chain models (PDB/mmCIF, optionally .gz)."),
    native: Path = typer.Option(..., help="The experimental structure the models are scored against."),
    out: Optional[Path] = typer.Option(None, help="CSV of the scores (default: MODELS/scores.csv)."),
    pairing: str = typer.Option("auto", help="Residue pairing: number (+ insertion code), sequence (global "
                                             "alignment) or auto (sequence when under half pair by number)."),
) -> None:
    """GDT_TS (fraction), TM-score and Cα-lDDT of every model against the native, normalised by the native's
    Cα count: labels for your own quality-assessment training sets. Unreadable models are skipped and listed."""
    import csv

    from .model_scores import score_folder

    with progress_bar() as bar:
        task = bar.add_task("scoring", total=sum(1 for p in models.iterdir()) if models.is_dir() else 0)
        rows, skipped = score_folder(models, native, pairing, on_item=lambda: bar.advance(task))
    out = out or models / "scores.csv"
    if rows:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        table = Table(title=f"{models}: {len(rows)} models against {native.name} (best 10 by GDT_TS)")
        for col in ("model", "gdt_ts", "tm_score", "lddt", "paired"):
            table.add_column(col)
        for r in sorted(rows, key=lambda r: -r["gdt_ts"])[:10]:
            table.add_row(r["model"], f"{r['gdt_ts']:.3f}", f"{r['tm_score']:.3f}", f"{r['lddt']:.3f}",
                          f"{r['paired']}/{r['native_residues']}")
        console.print(table)
        console.print(f"-> {out.resolve()}")
    report_failures(skipped, done=len(rows))


@app.command("compare")
def protein_compare(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Folder for runs, tables and figures; rerun to resume."),
    task: Task = None, config: ConfigFile = None, data: Data = None, split: Split = None,
    folds: Folds = None,
    split_seed: Annotated[str, typer.Option(help="seed: each seed splits anew (folds vary with the seed), or a "
                                                 "number: one split for every seed.")] = "seed",
    form: Form = None, label: Label = None,
    encoders: Annotated[str, typer.Option(help="Comma-separated encoders.")] = "gvp,egnn,molformer",
    plm: Annotated[str, typer.Option(help="Comma-separated PLM arms (" + PLM_HELP + ")")] = "none,esm2_650m,default",
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1.")] = 3,
    plm_model: PlmModel = None, plm_layers: PlmLayers = None, fusion: Fusion = None, layers: Layers = None,
    epochs: Epochs = None, patience: Patience = None, batch_size: BatchSize = None, lr: Lr = None,
    cache: Cache = None, set_: Sets = None, overwrite: Overwrite = False,
) -> None:
    """Train every encoder x PLM arm x seed (x fold) on the complexes every arm serves; write the tables (mean ±
    sd over folds ± sd over seeds, paired gains with bootstrap intervals), figures and the exact command."""
    from .compare import run_comparison

    if split_seed != "seed" and not split_seed.lstrip("-").isdigit():
        raise InputError(f"--split-seed must be 'seed' or a number, not {split_seed!r}")
    cfg = build_config(task, config, set_, data=data, split=split, folds=folds, form=form, label=label,
                       plm_model=plm_model, plm_layers=plm_layers, fusion=fusion, layers=layers, epochs=epochs,
                       patience=patience, batch_size=batch_size, lr=lr, cache=cache)
    run_comparison(cfg, encoders.split(","), plm.split(","), seeds, out, split_seed, command_line(ctx),
                   log=console.print, overwrite=overwrite)
    console.print((out / "summary.md").read_text())
    for name in ("summary.md", "summary.csv", "results.csv", "gains.csv", "figure.png", "gains.png", "command.txt"):
        if (out / name).exists():
            console.print(f"  {(out / name).resolve()}")

