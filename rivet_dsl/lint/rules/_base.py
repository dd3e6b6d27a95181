"""Shared machinery of the rules that report names from the ``_banned`` table."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
from libcst.metadata import QualifiedNameProvider

from .._banned import Banned, Category, lookup
from .._model import ModuleModel
from ..rule import LintRule

__all__ = ["BannedName", "HEADER"]

# the import line every snippet starts with
HEADER = "from rivet_dsl import Actor, WorkflowContext, workflow\n"

_PATH_TYPES = frozenset({"pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath"})


class BannedName(LintRule):
    """Reports a use of a ``_banned`` name of ``CATEGORY`` in workflow code (calls and references)."""

    CATEGORY: ClassVar[Category]
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def __init__(self, model: ModuleModel) -> None:
        super().__init__(model)
        self._covered: set[int] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self._check(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._check(node)

    def _names(self, node: cst.Name | cst.Attribute) -> list[str]:
        names = sorted(self.model.qualified_names(node))
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Call):
            if self.model.qualified_names(node.value.func) & _PATH_TYPES:
                names.append(f"pathlib.Path.{node.attr.value}")
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
