"""RVT001: entry names are string literals."""

from __future__ import annotations

from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["LiteralEntryName"]


class LiteralEntryName(LintRule):
    """History is matched by name: a computed name can change between runs and break replay."""

    CODE = "RVT001"
    MESSAGE = "entry name must be a string literal; write the name in quotes"
    VALID = (
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.step("load-" "user", self.load)
                    await ctx.sleep(name="pause", seconds=1.0)
                    await ctx.queue.next_batch("batch", count=10)
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
                    for i in range(3):
                        await ctx.step(f"part-{i}", self.part, i)
            """,
            line=7,
            col=28,
            expected_message="name of `ctx.step(...)` must be a string literal",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            NAME = "wait"

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.queue.next(NAME)
            """,
            expected_message="`ctx.queue.next(...)`",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.rollback_checkpoint()
            """,
            expected_message="has no name",
        ),
    )

    def finish(self) -> None:
        for entry in self.model.entries:
            if entry.name is not None:
                continue
            label = f"`{entry.receiver.value}.{entry.method}(...)`"
            node = entry.name_node
            if node is None:
                self.report(entry.node, f"{label} has no name; pass a string literal name as the first argument")
            else:
                self.report(node, f"name of {label} must be a string literal; write the name in quotes")
