"""RVT009: do not iterate over a set in workflow code."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import QualifiedNameProvider

from .._types import Invalid, Valid
from ._locals import LocalKinds

__all__ = ["NoSetIteration"]

_SET_TYPES = frozenset({"builtins.set", "builtins.frozenset"})
# calls whose result follows the order of their iterable argument
_ORDERING = frozenset({"builtins.list", "builtins.tuple", "builtins.enumerate", "builtins.iter", "builtins.zip"})
_SET_METHODS = frozenset({"union", "intersection", "difference", "symmetric_difference", "copy"})
_SET_OPERATORS = (cst.BitOr, cst.BitAnd, cst.Subtract, cst.BitXor)


class NoSetIteration(LocalKinds):
    """Set order depends on string hashing, which is randomized per process, so replay may
    create entries in a different order. Also a local bound to a set, and calls that keep the set's
    order (``list``, ``tuple``, ``enumerate``, ``iter``, ``zip``, ``str.join``, ``*`` unpacking,
    ``.pop()``). No autofix: ``sorted`` needs comparable elements."""

    CODE = "RVT009"
    MESSAGE = "iterating a set: its order differs between processes; iterate `sorted(...)` instead"
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)
    VALID = (
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    for region in sorted({"eu", "us"}):
                        print(region)
                    seen = {"a"} | {"b"}
                    for item in ["x", "y"]:
                        pass
            """
        ),
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.step("sum", lambda: [x for x in {1, 2, 3}])
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    for region in {"eu", "us"}:
                        pass
            """,
            line=6,
            col=23,
            expected_message="iterate `sorted(...)` instead",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    names = [n.upper() for n in set(["a", "b"])]
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    for tag in frozenset(("a", "b")):
                        pass
            """,
        ),
    )

    def kind_of(self, node: cst.BaseExpression) -> str | None:
        return "set" if self._is_set(node) else None

    def visit_For(self, node: cst.For) -> None:
        self._check(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._check(node.iter)

    def visit_Call(self, node: cst.Call) -> None:
        """``list(s)``, ``tuple(s)``, ``enumerate(s)``, ``iter(s)``, ``zip(s, ...)``, ``",".join(s)``, ``s.pop()``."""
        func = node.func
        positional = [a.value for a in node.args if a.keyword is None and a.star == ""]
        if isinstance(func, cst.Attribute) and func.attr.value == "join" and len(positional) == 1:
            self._check(positional[0])
        elif isinstance(func, cst.Attribute) and func.attr.value == "pop" and not node.args:
            self._check(func.value)
        elif positional and self.model.qualified_names(func) & _ORDERING:
            for value in positional:
                self._check(value)

    def visit_StarredElement(self, node: cst.StarredElement) -> None:
        self._check(node.value)

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.star == "*":
            self._check(node.value)

    def _is_set(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Set | cst.SetComp):
            return True
        if isinstance(node, cst.Name):
            return self.local_kind(node) == "set"
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _SET_OPERATORS):
            return self._is_set(node.left) or self._is_set(node.right)
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in _SET_METHODS:
                return self._is_set(func.value)
            return bool(self.model.qualified_names(func) & _SET_TYPES)
        return False

    def _check(self, node: cst.BaseExpression) -> None:
        if self._is_set(node):
            self.report(node)
