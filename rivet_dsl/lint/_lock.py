"""``rivet.lock.json``: the entry tree of every workflow, and the checks against it.

The lock records, per module (path relative to the lock file), actor class and workflow method,
the tree of entries: ``{"name", "type"}``, plus ``"latest"`` for version gates and ``"children"`` for
loop bodies and join/race branches (branches are ``{"name": <branch key>, "type": "branch"}``).
Everything is sorted, so the file is deterministic. A later lint reports entries that disappeared
or changed type without a matching ``ctx.removed(name, original_type)`` in the same scope
(``RVT101``), and version gates that vanished or whose ``latest`` decreased (``RVT102``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import libcst as cst

from ._model import EntryCall, ModuleModel, Scope, literal_string
from .rule import Report

__all__ = [
    "LOCK_FILE",
    "REMOVED_ENTRY",
    "VERSION_GATE",
    "check_lock",
    "dump_lock",
    "load_lock",
    "workflow_trees",
]

LOCK_FILE = "rivet.lock.json"
REMOVED_ENTRY = ("RVT101", "RemovedEntry")
VERSION_GATE = ("RVT102", "VersionGate")
LOCK_VERSION = 1

Tree = list[dict[str, Any]]


def _latest(entry: EntryCall) -> int | None:
    node = entry.arg(1, "latest")
    return node.evaluated_value if isinstance(node, cst.Integer) else None


def _named(entries: Sequence[EntryCall]) -> dict[str, EntryCall]:
    named: dict[str, EntryCall] = {}
    for entry in entries:
        name = entry.name
        if name is not None and entry.method != "removed":
            named.setdefault(name, entry)
    return named


def _tree(scope: Scope, seen: frozenset[int] = frozenset()) -> Tree:
    if id(scope) in seen:
        return []
    seen = seen | {id(scope)}
    nodes: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in scope.entries:
        name = entry.name
        if name is None:
            continue
        node: dict[str, Any] = {"name": name, "type": entry.entry_type}
        if entry.method == "get_version":
            node["latest"] = _latest(entry)
        if entry.method == "loop":
            node["children"] = _tree(entry.children[0], seen) if entry.children else []
        elif entry.method in ("join", "race"):
            node["children"] = sorted(
                (
                    {"name": child.label, "type": "branch", "children": _tree(child, seen)}
                    for child in entry.children
                    if child.label is not None
                ),
                key=lambda n: str(n["name"]),
            )
        nodes.setdefault((name, entry.entry_type), node)
    return [nodes[key] for key in sorted(nodes)]


def workflow_trees(model: ModuleModel) -> dict[str, Tree]:
    """``{"Class.method": tree}`` for every workflow of an analyzed module."""
    return {f"{actor.name}.{func.name.value}": _tree(scope) for actor, func, scope in model.roots}


def load_lock(path: Path) -> dict[str, dict[str, Tree]]:
    """The ``workflows`` table of a lock file (``ValueError`` when it is not a lock file)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("workflows"), dict):
        raise ValueError(f"{path}: not a rivet lock file (no 'workflows' table)")
    workflows: dict[str, dict[str, Tree]] = data["workflows"]
    return workflows


def dump_lock(workflows: Mapping[str, Mapping[str, Tree]]) -> str:
    body = {"version": LOCK_VERSION, "workflows": {k: dict(v) for k, v in workflows.items() if v}}
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _anchor(scope: Scope) -> cst.CSTNode:
    return scope.func.name if isinstance(scope.func, cst.FunctionDef) else scope.func


def _removed(scope: Scope) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for entry in scope.entries:
        if entry.method == "removed":
            name, original = entry.name, literal_string(entry.arg(1, "original_type"))
            if name is not None and original is not None:
                found.add((name, original))
    return found


def _check(old: Tree, scope: Scope, where: str, reports: list[Report]) -> None:
    named = _named(scope.entries)
    removed = _removed(scope)
    for item in old:
        name, kind = str(item.get("name")), str(item.get("type"))
        if kind == "removed":
            continue
        entry = named.get(name)
        if entry is None or entry.entry_type != kind:
            if (name, kind) in removed:
                continue
            now = "is gone" if entry is None else f"is now a {entry.entry_type}"
            code, rule = VERSION_GATE if kind == "version_check" else REMOVED_ENTRY
            what = "version gate" if kind == "version_check" else f"{kind} entry"
            reports.append(
                Report(
                    code,
                    rule,
                    _anchor(scope) if entry is None else entry.node,
                    f"{what} {name!r} recorded in {LOCK_FILE} ({where}) {now}; in-flight histories still "
                    f"contain it: add `await ctx.removed({name!r}, {kind!r})` to this scope, or restore it",
                )
            )
            continue
        if kind == "version_check":
            old_latest, new_latest = item.get("latest"), _latest(entry)
            if isinstance(old_latest, int) and isinstance(new_latest, int) and new_latest < old_latest:
                reports.append(
                    Report(
                        *VERSION_GATE,
                        entry.node,
                        f"version gate {name!r} lowered `latest` from {old_latest} to {new_latest}; "
                        "versions only grow: keep the old branches and raise `latest` instead",
                    )
                )
            continue
        children = item.get("children")
        if not isinstance(children, list):
            continue
        if kind == "loop":
            if entry.children:
                _check(children, entry.children[0], f"{where} > {name}", reports)
            continue
        branches = {child.label: child for child in entry.children}
        for branch in children:
            label = str(branch.get("name"))
            child = branches.get(label)
            sub = branch.get("children")
            if child is None:
                if entry.children:
                    reports.append(
                        Report(
                            *REMOVED_ENTRY,
                            entry.node,
                            f"branch {label!r} of {kind} {name!r} recorded in {LOCK_FILE} is gone; "
                            "in-flight histories still contain it: restore the branch",
                        )
                    )
            elif isinstance(sub, list):
                _check(sub, child, f"{where} > {name} > {label}", reports)


def check_lock(model: ModuleModel, locked: Mapping[str, Tree]) -> list[Report]:
    """Findings for workflows of ``model`` that diverge from their ``locked`` trees."""
    reports: list[Report] = []
    for actor, func, scope in model.roots:
        key = f"{actor.name}.{func.name.value}"
        old = locked.get(key)
        if old is not None:
            _check(old, scope, key, reports)
    return reports
