"""RVT012: a loop body or branch must use its own context parameter."""

from __future__ import annotations

import libcst as cst

from .._model import context_method
from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["UseOwnContext"]


class UseOwnContext(LintRule):
    """Entries made on the enclosing context land in the wrong scope of the history.

    Autofix: renames the receiver to the body's own context parameter.
    """

    CODE = "RVT012"
    MESSAGE = "loop body or branch uses the enclosing context; use its own context parameter"
    VALID = (
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        async def fetch(branch: WorkflowContext) -> int:
                            return await branch.step("fetch", self.fetch)
                        await loop.join("j", {"a": fetch})
                        await loop.step("s", self.save)
                    await ctx.loop("l", each)
                    await ctx.step("after", self.after)
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
                    async def each(loop: WorkflowContext) -> None:
                        await ctx.step("s", self.save)
                    await ctx.loop("l", each)
            """,
            line=7,
            col=19,
            expected_message="uses `ctx`, the enclosing context; use `loop`",
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        await loop.step("s", self.save)
                    await ctx.loop("l", each)
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        await loop.race("r", {"w": lambda b: ctx.sleep("nap", 1)})
                    await ctx.loop("l", each)
            """,
            expected_message="use `b`",
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        await loop.race("r", {"w": lambda b: b.sleep("nap", 1)})
                    await ctx.loop("l", each)
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def users() -> int:
                        return await ctx.step("users", self.users)
                    await ctx.join("j", {"users": users})
            """,
            expected_message="give it a context parameter",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.scope
        assert scope is not None
        found = context_method(node, scope.visible)
        if found is None:
            return
        receiver = found[1]
        if receiver.value in scope.contexts or receiver.value not in scope.outer_contexts:
            return
        own = sorted(scope.contexts)
        if len(own) == 1:
            message = f"{scope.kind} uses `{receiver.value}`, the enclosing context; use `{own[0]}`, its own parameter"
            self.report(receiver, message, replacement=receiver.with_changes(value=own[0]))
        else:
            message = f"{scope.kind} uses `{receiver.value}`, the enclosing context; give it a context parameter"
            self.report(receiver, message)
