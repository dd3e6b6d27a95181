"""The rule base class (Fixit's shape): class attributes as data, ``report`` to emit a finding."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import libcst as cst

from ._model import ModuleModel, Scope
from ._types import Invalid, Valid

__all__ = ["LintRule", "Report"]


@dataclasses.dataclass(frozen=True, eq=False)
class Report:
    """A finding before positions are resolved: the node, and the fix (a node to put in its place)."""

    code: str
    name: str
    node: cst.CSTNode
    message: str
    replacement: cst.CSTNode | None = None


class LintRule:
    """Base class of every rule.

    A rule sets ``CODE`` (stable, ``RVTnnn``), ``MESSAGE`` (the default report text, which says what
    to do instead) and ``VALID``/``INVALID`` snippets (the rule's tests and documentation). It
    implements ``visit_<Node>(node)`` hooks, called only for nodes of workflow code (outside steps)
    with ``self.scope`` set to the enclosing :class:`Scope`, and/or ``finish()``, called once per
    module after the walk, when ``self.model.entries`` holds every context call. ``AUTOFIX`` is true
    when some ``Invalid`` case states an ``expected_replacement``.
    """

    CODE: ClassVar[str]
    MESSAGE: ClassVar[str]
    VALID: ClassVar[Sequence[Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()
    AUTOFIX: ClassVar[bool] = False
    name: ClassVar[str] = "LintRule"

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.name = cls.__name__
        cls.AUTOFIX = any(case.expected_replacement is not None for case in cls.INVALID)

    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        self.scope: Scope | None = None
        self.stack: list[cst.CSTNode] = []
        self.reports: list[Report] = []

    def enter_scope(self, scope: Scope, stack: list[cst.CSTNode]) -> None:
        self.scope = scope
        self.stack = stack

    def parent(self, depth: int = 1) -> cst.CSTNode | None:
        """The ancestor ``depth`` levels above the node being visited."""
        index = len(self.stack) - 1 - depth
        return self.stack[index] if index >= 0 else None

    def report(self, node: cst.CSTNode, message: str | None = None, *, replacement: cst.CSTNode | None = None) -> None:
        self.reports.append(Report(self.CODE, self.name, node, message or self.MESSAGE, replacement))

    def finish(self) -> None:
        """Called once after every workflow scope of the module was walked."""
