"""What a rule knows about the local names workflow code binds (``p = Path("x")``, ``s = {1, 2}``)."""

from __future__ import annotations

import libcst as cst

from .._model import ModuleModel
from ..rule import LintRule

__all__ = ["LocalKinds"]


class LocalKinds(LintRule):
    """Tracks, per scope, the *kind* (a rule-defined label) of the value each simple local was
    last bound to; a rebinding to something else forgets it. Subclasses say what kind a value
    is in :meth:`kind_of`, and read a name's kind with :meth:`local_kind`."""

    def __init__(self, model: ModuleModel) -> None:
        super().__init__(model)
        self._local_kinds: dict[tuple[int, str], str] = {}  # (scope, local name) -> kind

    def kind_of(self, node: cst.BaseExpression) -> str | None:
        raise NotImplementedError

    def local_kind(self, name: cst.Name) -> str | None:
        return None if self.scope is None else self._local_kinds.get((id(self.scope), name.value))

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1:
            self._bind(node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name) and self.scope is not None:
            key = (id(self.scope), target.value)
            kind = self.kind_of(value)
            if kind is None:
                self._local_kinds.pop(key, None)
            else:
                self._local_kinds[key] = kind
