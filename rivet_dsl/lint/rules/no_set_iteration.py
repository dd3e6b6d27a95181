"""RVT009: do not iterate over a set in workflow code."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import QualifiedNameProvider

from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["NoSetIteration"]

_SET_TYPES = frozenset({"builtins.set", "builtins.frozenset"})


class NoSetIteration(LintRule):
    """Set order depends on string hashing, which is randomized per process, so replay may
    create entries in a different order. No autofix: ``sorted`` needs comparable elements."""

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

    def visit_For(self, node: cst.For) -> None:
        self._check(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._check(node.iter)

    def _check(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Set | cst.SetComp):
            self.report(node)
        elif isinstance(node, cst.Call) and self.model.qualified_names(node.func) & _SET_TYPES:
            self.report(node)
