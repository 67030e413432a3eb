"""Featurizing many structure files: skip bad ones, report them at the end, resume where a run stopped."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..graph.cache import file_sha256
from ..graph.io import save_graph
from .featurize import GraphConfig, featurize
from .io import STRUCTURE_SUFFIXES, is_structure_file, read_structure
from .structure import StructureError

MANIFEST = "manifest.jsonl"


@dataclass
class BatchReport:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already done by an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, problem)


def expand_inputs(inputs: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files as given, folders searched recursively for structure files; missing paths are reported."""
    files: list[Path] = []
    bad: list[tuple[str, str]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if is_structure_file(f))
            if not found:
                bad.append((str(p), f"folder holds no structure files ({', '.join(STRUCTURE_SUFFIXES)})"))
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            bad.append((str(p), "no such file or folder"))
    return files, bad


def output_name(path: Path) -> str:
    name = path.name
    for suffix in sorted(STRUCTURE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _load_manifest(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                done[entry["output"]] = entry
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut short by a crash
    return done


def featurize_many(
    inputs: Iterable[str | Path],
    out: str | Path,
    config: GraphConfig = GraphConfig(),
    progress: Callable[[list[Path]], Iterable[Path]] = lambda files: files,
) -> BatchReport:
    """Write one ``<name>.pt`` graph per input structure into ``out``, with a resumable manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files, bad = expand_inputs(inputs)
    report = BatchReport(failed=list(bad))
    manifest_path = out / MANIFEST
    done = _load_manifest(manifest_path)
    claimed: dict[str, Path] = {}
    key = config.key()
    with open(manifest_path, "a") as manifest:
        for path in progress(files):
            name = output_name(path)
            if name in claimed:
                report.failed.append((str(path), f"output name {name!r} already taken by {claimed[name]}"))
                continue
            claimed[name] = path
            try:
                digest = file_sha256(path)
            except OSError as e:
                report.failed.append((str(path), f"cannot read ({e.strerror})"))
                continue
            prior = done.get(name)
            if prior and prior["sha256"] == digest and prior["config"] == key and (out / f"{name}.pt").exists():
                report.skipped.append(str(path))
                continue
            try:
                graph = featurize(read_structure(path), config, name=name)
            except StructureError as e:
                report.failed.append((str(path), e.problem))
                continue
            save_graph(graph, out / f"{name}.pt")
            entry = {"output": name, "input": str(path), "sha256": digest, "config": key,
                     "nodes": graph.num_nodes, "edges": graph.num_edges}
            manifest.write(json.dumps(entry) + "\n")
            manifest.flush()
            report.written.append(str(path))
    return report
