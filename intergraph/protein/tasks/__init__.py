"""The protein tasks, registered once: the CLI, ``evaluate``, ``predict``, ``compare`` and the demo look a task
up here by name (or by the ``task:`` of a run's config.yaml) and never branch on it.

A new task is one folder (data, model, run) with a :class:`TaskSpec` subclass, and one line below.
"""
from __future__ import annotations

from ...errors import InputError
from .base import ItemGain, PredictInputs, TaskSpec


def _registry() -> dict[str, TaskSpec]:
    from .affinity.run import AffinitySpec
    from .chain_quality.run import ChainQualitySpec
    from .docking.run import DockingSpec
    from .interface.run import InterfaceSpec
    from .quality.run import QualitySpec

    return {spec.name: spec for spec in (InterfaceSpec(), DockingSpec(), QualitySpec(), ChainQualitySpec(),
                                             AffinitySpec())}


def names() -> list[str]:
    return list(_registry())


def task(name: str) -> TaskSpec:
    """The registered task called ``name``."""
    registry = _registry()
    if name not in registry:
        raise InputError(f"unknown task {name!r}; tasks: {', '.join(registry)}")
    return registry[name]


__all__ = ["ItemGain", "PredictInputs", "TaskSpec", "names", "task"]
