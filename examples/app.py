"""Every example actor in one registry (what `make run` serves)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import examples
from rivet_dsl import Actor, Registry, setup

_EXCLUDED = {"app", "run_demo", "client_demo"}


def _collect() -> list[type[Actor[Any]]]:
    actors: dict[str, type[Actor[Any]]] = {}
    for module_info in sorted(pkgutil.iter_modules(examples.__path__), key=lambda m: m.name):
        if module_info.name in _EXCLUDED or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"examples.{module_info.name}")
        registry = getattr(module, "registry", None)
        if not isinstance(registry, Registry):
            continue
        for name, definition in registry.definitions.items():
            # Two seed examples may share a wire name; the first module (by name) keeps it.
            actors.setdefault(name, definition.cls)
    return list(actors.values())


registry = setup(*_collect())
