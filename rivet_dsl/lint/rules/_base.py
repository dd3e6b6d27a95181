"""Shared machinery of the rules that report names from the ``_banned`` table."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
from libcst.metadata import QualifiedNameProvider

from .._banned import Banned, Category, lookup
from .._model import ModuleModel
from ._locals import LocalKinds

__all__ = ["HEADER", "BannedName"]

# the import line every snippet starts with
HEADER = "from rivet_dsl import Actor, WorkflowContext, workflow\n"

# calls whose result has methods in the table: `Path("x").read_text()`, `get_running_loop().time()`
_FACTORIES = {
    "pathlib.Path": "pathlib.Path",
    "pathlib.PosixPath": "pathlib.Path",
    "pathlib.WindowsPath": "pathlib.Path",
    "asyncio.get_running_loop": "asyncio.AbstractEventLoop",
    "asyncio.get_event_loop": "asyncio.AbstractEventLoop",
}


class BannedName(LocalKinds):
    """Reports a use of a ``_banned`` name of ``CATEGORY`` in workflow code (calls and references)."""

    CATEGORY: ClassVar[Category]
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def __init__(self, model: ModuleModel) -> None:
        super().__init__(model)
        self._covered: set[int] = set()

    def kind_of(self, node: cst.BaseExpression) -> str | None:
        """``pathlib.Path`` for ``Path("a")``, ``Path("a") / "b"`` or a local bound to one, and so on."""
        if isinstance(node, cst.Call):
            for name in self.model.qualified_names(node.func):
                if name in _FACTORIES:
                    return _FACTORIES[name]
        elif isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
            left = self.kind_of(node.left)
            return left if left == "pathlib.Path" else None
        elif isinstance(node, cst.Name):
            return self.local_kind(node)
        return None

    def visit_Name(self, node: cst.Name) -> None:
        self._check(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._check(node)

    def _names(self, node: cst.Name | cst.Attribute) -> list[str]:
        names = sorted(self.model.qualified_names(node))
        if isinstance(node, cst.Attribute):
            kind = self.kind_of(node.value)
            if kind is not None:
                names.append(f"{kind}.{node.attr.value}")
        return names

    def _check(self, node: cst.Name | cst.Attribute) -> None:
        if id(node) in self._covered:
            return
        for name in self._names(node):
            banned = lookup(name)
            if banned is not None and banned.category == self.CATEGORY:
                self.report(node, self.describe(name, banned))
                inner: cst.BaseExpression = node
                while isinstance(inner, cst.Attribute):
                    inner = inner.value
                    self._covered.add(id(inner))
                return

    def describe(self, name: str, banned: Banned) -> str:
        return f"`{name}` in workflow code outside a step {banned.reason}; {banned.replacement}"
