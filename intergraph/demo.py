"""The built-in default job that ``make demo`` runs, writing its tables under one run folder."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

#: most epochs of each interface run of the demo (early stopping may end a run sooner)
DEMO_EPOCHS = 12


def db5_summary(out: Path, split: str = "test", console: Console | None = None,
                progress=lambda it, _: it) -> list[dict]:
    """Featurize one DB5.5 split (bound forms) with interface labels; print and save a per-complex table."""
    from .protein.db5 import DB5

    console = console or Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = DB5(split=split, cache_dir=out / "cache")
    rows = []
    start = time.perf_counter()
    for cid in progress(ds.ids, f"DB5 {split}"):
        t0 = time.perf_counter()
        item = ds[cid]
        r, l = item.receptor, item.ligand
        n = r.num_nodes + l.num_nodes
        rows.append({
            "complex": cid,
            "difficulty": ds.difficulty.get(cid, ""),
            "receptor_residues": r.num_nodes,
            "ligand_residues": l.num_nodes,
            "edges": r.num_edges + l.num_edges,
            "interface_ca8": round(float(r.y_ca.sum() + l.y_ca.sum()) / n, 4),
            "interface_heavy6": round(float(r.y_heavy.sum() + l.y_heavy.sum()) / n, 4),
            "seconds": round(time.perf_counter() - t0, 4),
        })
    total = time.perf_counter() - start

    table = Table(title=f"DB5.5 {split} split, bound structures -> residue graphs (radius 8 Å, ≤32 neighbours)")
    headers = ["complex", "class", "rec res", "lig res", "edges", "iface Cα<8", "iface heavy<6", "s"]
    for col in headers:
        table.add_column(col, justify="left" if col in ("complex", "class") else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    res = sum(r["receptor_residues"] + r["ligand_residues"] for r in rows)
    def share(key: str) -> str:
        return f"{sum(r[key] * (r['receptor_residues'] + r['ligand_residues']) for r in rows) / res:.4f}"

    table.add_row("total", "", str(sum(r["receptor_residues"] for r in rows)),
                  str(sum(r["ligand_residues"] for r in rows)), str(sum(r["edges"] for r in rows)),
                  share("interface_ca8"), share("interface_heavy6"),
                  f"{total:.2f}")
    console.print(table)
    with open(out / "db5_summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "db5_summary.json").write_text(json.dumps({"split": split, "complexes": len(rows), "residues": res,
                                                      "seconds": round(total, 3), "rows": rows}, indent=1))
    console.print(f"tables written to {out / 'db5_summary.csv'} and {out / 'db5_summary.json'}")
    return rows


def plm_summary(out: Path, console: Console | None = None, progress=lambda it, _: it) -> dict:
    """Real ESM-2 650M embeddings of 74 DB5 complexes: import into a store, align onto the bound and the
    unbound structures, print identity/coverage statistics; embed the DB5 test chains with the default PLM."""
    import numpy as np

    from .data import dataset_path
    from .protein.db5 import DB5
    from .protein.plm.arms import PLMSource
    from .protein.plm.backends import PLMNotFound, load_plm
    from .protein.plm.extract import LayerSpec
    from .protein.plm.pipeline import embed_to_store, import_to_store
    from .protein.plm.registry import DEFAULT_PLM, PAPER_PLM
    from .protein.plm.store import EmbeddingStore

    console = console or Console()
    out = Path(out)
    store_path = out / "plm_store"
    source = dataset_path("esm2_650m_db5")
    files = sorted(source.glob("*.npz"))
    with EmbeddingStore(store_path) as store:
        if sum(1 for _ in files if store.sequence_named(PAPER_PLM, "33", _.stem) is None):
            import_to_store(files, store, PAPER_PLM, "33")
    complexes = sorted({f.stem.split(".")[0] for f in files})
    rows = []
    stats = {}
    for form in ("b", "u"):
        ds = DB5(form=form, ids=complexes, plm=PLMSource(store_path, PAPER_PLM, "33", min_coverage=0.6),
                 cache_dir=out / "cache")
        ident, cover, unmatched = [], [], 0
        for cid in progress(ds.ids, f"align ESM-2 650M ({'bound' if form == 'b' else 'unbound'})"):
            item = ds[cid]
            for role, g in (("r", item.receptor), ("l", item.ligand)):
                ident.append(g.plm_identity[0])
                cover.append(g.plm_coverage[0])
                unmatched += int((~g.plm_mask).sum())
                rows.append({"complex": cid, "role": role, "form": form, "nodes": g.num_nodes,
                             "identity": g.plm_identity[0], "coverage": g.plm_coverage[0],
                             "nodes_without_embedding": int((~g.plm_mask).sum())})
        stats[form] = (np.array(ident), np.array(cover), unmatched)
    table = Table(title=f"{len(files)} real ESM-2 650M chain embeddings aligned onto DB5.5 structures")
    for col in ("form", "chains", "id mean", "id med", "id min", "cov mean", "cov med", "cov min", "unmatched"):
        table.add_column(col, justify="left" if col == "form" else "right")
    for form, (i, c, u) in stats.items():
        table.add_row("bound" if form == "b" else "unbound", str(len(i)), f"{i.mean():.4f}", f"{np.median(i):.4f}",
                      f"{i.min():.4f}", f"{c.mean():.4f}", f"{np.median(c):.4f}", f"{c.min():.4f}", str(u))
    console.print(table)
    with open(out / "plm_alignment.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    summary = {form: {"chains": len(i), "identity_mean": float(i.mean()), "identity_min": float(i.min()),
                      "coverage_median": float(np.median(c)), "coverage_min": float(c.min())}
               for form, (i, c, _) in stats.items()}
    try:
        plm = load_plm(DEFAULT_PLM)
    except PLMNotFound as e:
        console.print(f"default PLM not available: {e}")
        return summary
    test = DB5(split="test", cache_dir=out / "cache")
    named = []
    for cid in test.ids:
        item = test[cid]
        for g in (item.receptor, item.ligand):
            named += [(f"{g.name}:{c}", s) for c, s in zip(g.chain_ids, g.chain_sequences)]
    t0 = time.perf_counter()
    with EmbeddingStore(store_path) as store:
        report = embed_to_store(plm, named, store, LayerSpec())
    console.print(f"default PLM {plm.id}: {report.done} DB5 test chains embedded, {report.skipped} already stored "
                  f"({time.perf_counter() - t0:.1f} s) -> {store_path}")
    summary["default_plm"] = {"model": plm.id, "embedded": report.done, "stored": report.skipped}
    (out / "plm_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def comparison_summary(out: Path, console: Console | None = None, epochs: int = DEMO_EPOCHS) -> Path:
    """A short paired comparison: GVP-GNN (3 layers) for interface prediction without a PLM, with the real
    ESM-2 650M embeddings and with our own PLM, one seed, 2-fold cross-validation over the DB5 complexes that
    have ESM-2 embeddings, ``epochs`` epochs per run (batch 4; the epoch with the best validation AUROC is
    tested). Fixed epochs, never wall time: the table is the same on a loaded and an idle machine."""
    from .protein.compare import run_comparison
    from .protein.plm.backends import PLMNotFound, load_plm
    from .protein.plm.registry import DEFAULT_PLM
    from .protein.tasks import task
    from .train.config import apply_overrides

    console = console or Console()
    arms = ["none", "esm2_650m"]
    try:
        load_plm(DEFAULT_PLM)
        arms.append("default")
    except PLMNotFound:
        console.print(f"(our own PLM {DEFAULT_PLM} is not installed: its arm is skipped)")
    base = apply_overrides(task("interface").default_config(), [
        "data.split=kfold", "data.folds=2", f"data.cache_dir={out / 'cache'}", "model.encoder=gvp", "model.layers=3",
        f"train.max_epochs={epochs}", "train.batch_size=4", "train.lr=5e-4", f"train.early_stop_patience={epochs}"])
    folder = out / "interface_comparison"
    run_comparison(base, ["gvp"], arms, seeds=1, out=folder, split_seed="0", log=console.print, progress=False,
                   command=f"intergraph demo --out {out}  # comparison_summary(epochs={epochs})")
    console.print((folder / "summary.md").read_text())
    return folder


#: the demo's families-benchmark arms: one seed at a size that runs in about 6 minutes on 2 CPU cores, with the
#: network that can learn the benchmark (the temporal head and the layout embedding; the paper's mean head and
#: layout-free object nodes cannot tell the motion family's classes apart, see the README)
DEMO_ARMS = dict(videos=1080, data_seed=0, epochs=8, batch_size=16, width=32, warmup=2, head="temporal",
                 layout_embedding=True)


def video_summary(out: Path, console: Console | None = None) -> Path:
    """Every arm of the families benchmark (built in, no data needed) at the demo's size (:data:`DEMO_ARMS`, one
    training seed): best single operation, DARTS derived, mixed edges, uniform mixture, oracle routing, the
    adaptive search (softmax / argmax at test, + derived training), shuffled routing; the table, paired
    differences and validity checks. ``intergraph video arms`` runs the full protocol."""
    from .video.arms import arms_run, command_of, run_arms

    console = console or Console()
    folder = out / "video_arms"
    folder.mkdir(parents=True, exist_ok=True)
    base = arms_run(**DEMO_ARMS)
    (folder / "command.txt").write_text(command_of(base, folder, [0], "ours") + "  # intergraph demo\n")
    run_arms(base, folder, [0], log=console.print, progress=False)
    console.print((folder / "summary.md").read_text())
    return folder
