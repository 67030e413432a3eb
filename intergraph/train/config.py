"""Typed run configuration, saved as YAML beside the checkpoints and loaded back unchanged.

A run folder belongs to one config: :func:`claim_run_dir` accepts a folder only when the config it holds is
the requested one (a resume), and refuses any other unless told to overwrite it. ``--set a.b=value``
overrides (:func:`apply_overrides`) reach every field of a nested config, typed by its annotation.
"""
from __future__ import annotations

import json
import shutil
import typing
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path

import yaml

from ..errors import InputError

#: fields that say where things are kept or when a run pauses, not what it computes: ignored when run folders
#: are compared (a run stopped early with ``stop_epoch`` resumes under a config without it)
RUNTIME_FIELDS = frozenset({"cache_dir", "stop_epoch", "num_workers"})


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping shared by every task (defaults: the PLM paper's protocol). Training length
    is counted in epochs only (never wall time), so results do not depend on the machine's load."""

    max_epochs: int = 50
    lr: float = 1e-4
    weight_decay: float = 0.0
    plateau_factor: float = 0.6
    plateau_patience: int = 5
    early_stop_patience: int = 10
    monitor: str = "val/loss"
    mode: str = "min"
    batch_size: int = 8
    seed: int = 0
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    num_workers: int = 0
    stop_epoch: int = 0       # stop after this many epochs as if interrupted (schedules follow max_epochs); 0 = none
    gradient_clip: float = 1.0


def to_dict(cfg) -> dict:
    return asdict(cfg)


def from_dict(cls, data: dict):
    """Build a (nested) dataclass from a plain dict, refusing unknown keys."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"{cls.__name__}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        kwargs[key] = from_dict(hint, value) if is_dataclass(hint) and isinstance(value, dict) else value
    return cls(**kwargs)


def save_yaml(cfg, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def load_yaml(cls, path: str | Path):
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not a YAML config ({e})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a config is a mapping of settings, not {type(data).__name__}")
    try:
        return from_dict(cls, data)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None


def _identity(value):
    """A config as plain data with the runtime fields blanked (two runs that differ only there are one run)."""
    if isinstance(value, dict):
        return {k: None if k in RUNTIME_FIELDS else _identity(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_identity(v) for v in value]
    return value


def same_run(a, b) -> bool:
    """Whether two configs describe the same computation (runtime fields such as the cache folder aside)."""
    return type(a) is type(b) and _identity(to_dict(a)) == _identity(to_dict(b))


def differences(a, b, prefix: str = "") -> list[str]:
    """Dotted names of the settings where two configs (as dicts) differ, runtime fields aside."""
    da, db = (_identity(to_dict(x)) if is_dataclass(x) else x for x in (a, b))
    out = []
    for key in sorted(set(da) | set(db)):
        va, vb = da.get(key), db.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {va!r} -> {vb!r}")
    return out


def claim_run_dir(cfg, run_dir: str | Path, overwrite: bool = False) -> Path:
    """Create ``run_dir`` for ``cfg`` (saved as config.yaml), or accept it when it holds the same config (a
    resume). A folder holding another config is refused, naming the differences; with ``overwrite`` its
    contents are deleted first."""
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if path.exists():
        try:
            held = load_yaml(type(cfg), path)
            same = same_run(held, cfg)
            why = "; ".join(differences(held, cfg)[:6])
        except InputError as e:
            same, why = False, str(e)
        if not same and not overwrite:
            raise InputError(f"{run_dir} holds a run with another config ({why}); choose another --out, or pass "
                             f"--overwrite to delete it and train anew")
        if not same:
            shutil.rmtree(run_dir)
    elif overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, path)
    return run_dir


def claim_results_dir(out: str | Path, config: dict, what: str, overwrite: bool = False) -> Path:
    """Create ``out`` for resumable results made with ``config`` (saved as ``config.json``), or accept it when it
    holds the same one; a folder holding ``what`` made with another configuration is refused, naming the
    differences, unless ``overwrite`` (its items are then recomputed)."""
    out = Path(out)
    path = out / "config.json"
    if path.exists() and not overwrite:
        held = json.loads(path.read_text())
        if held != config:
            why = "; ".join(differences(held, config)[:6])
            raise InputError(f"{out} holds {what} made with another configuration ({why}); pass --overwrite or "
                             "another --out")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return out


def _coerce(text: str, hint, where: str):
    """``text`` (YAML scalar or list) as a value of type ``hint``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if hint is float and not isinstance(value, bool):
        try:  # YAML 1.1 reads 5e-4 as a string; Python reads it as the float meant
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}: expected float, got {text!r}") from None
    if hint is str:
        return text
    if origin is list:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {text!r}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise InputError(f"{where}: expected {hint.__name__}, got {text!r}")
    return value


def apply_overrides(cfg, assignments: list[str]):
    """Set dotted fields from ``key=value`` strings, e.g. ``train.lr=5e-4`` or ``docking.keypoints=4``; values
    are read as YAML and checked against the field's type. Unknown names are refused, listing the known ones."""
    for item in assignments:
        if "=" not in item:
            raise InputError(f"--set {item!r}: expected SECTION.NAME=VALUE")
        key, text = item.split("=", 1)
        *path, name = key.strip().split(".")
        target = cfg
        for part in path:
            if not is_dataclass(target) or part not in {f.name for f in fields(target)}:
                raise InputError(f"--set {key}: no section {part!r}")
            target = getattr(target, part)
        if not is_dataclass(target) or name not in {f.name for f in fields(target)}:
            known = sorted(f.name for f in fields(target)) if is_dataclass(target) else []
            raise InputError(f"--set {key}: unknown setting {name!r}; known: {', '.join(known)}")
        hint = typing.get_type_hints(type(target))[name]
        if is_dataclass(hint):
            raise InputError(f"--set {key}: a section; set its fields one by one")
        setattr(target, name, _coerce(text.strip(), hint, f"--set {key}"))
    return cfg


def settings(cfg, prefix: str = "") -> list[tuple[str, object]]:
    """Every leaf setting of a nested config as (dotted name, value)."""
    out = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if is_dataclass(value):
            out += settings(value, f"{prefix}{f.name}.")
        else:
            out.append((f"{prefix}{f.name}", value))
    return out


__all__ = ["TrainConfig", "apply_overrides", "claim_run_dir", "differences", "from_dict", "load_yaml", "same_run",
           "save_yaml", "settings", "to_dict"]
