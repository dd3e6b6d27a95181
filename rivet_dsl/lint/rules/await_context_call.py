"""RVT011: every context call (and ``message.complete``) must be awaited where it is made."""

from __future__ import annotations

import libcst as cst

from .._model import context_method
from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["AwaitContextCall"]

_FIXABLE_PARENTS = (cst.Expr, cst.Assign, cst.AnnAssign, cst.Return)


class AwaitContextCall(LintRule):
    """An entry that is not awaited never runs in order (``EntryInProgressError`` at run time).

    Autofix: adds ``await`` when the call is a statement, an assignment value or a return value
    inside an ``async def``.
    """

    CODE = "RVT011"
    MESSAGE = "context call is not awaited; write `await` before it"
    VALID = (
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    message = await ctx.queue.next("wait", completable=True)
                    value = await ctx.step("double", lambda: message.body * 2)
                    await message.complete(value)
                    return await ctx.step("done", self.done)
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
                    ctx.step("x", self.f)
            """,
            line=6,
            col=9,
            expected_message="`ctx.step(...)` is not awaited",
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.step("x", self.f)
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        message = await loop.queue.next("wait", completable=True)
                        result = loop.step("work", self.work, message.body)
                        message.complete(result)
                    await ctx.loop("l", each)
            """,
            line=8,
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        message = await loop.queue.next("wait", completable=True)
                        result = await loop.step("work", self.work, message.body)
                        await message.complete(result)
                    await ctx.loop("l", each)
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    tasks = [ctx.sleep("a", 1), ctx.sleep("b", 2)]
            """,
            expected_message="`ctx.sleep(...)` is not awaited",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.scope
        assert scope is not None
        parent = self.parent()
        child: cst.CSTNode = node
        depth = 1
        while isinstance(parent, cst.IfExp) and child is not parent.test:  # `await (a if c else b)`
            child, depth = parent, depth + 1
            parent = self.parent(depth)
        if isinstance(parent, cst.Await) and parent.expression is child:
            return
        lam = parent if isinstance(parent, cst.Lambda) else scope.func
        if isinstance(lam, cst.Lambda) and lam.body is node:
            return  # a lambda loop body or branch returns the coroutine to the runtime, which awaits it
        found = context_method(node, scope.visible)
        if found is not None:
            label = f"`{found[1].value}.{found[0]}(...)`"
        elif (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "complete"
            and isinstance(node.func.value, cst.Name)
            and node.func.value.value in scope.messages
        ):
            label = f"`{node.func.value.value}.complete(...)`"
        else:
            return
        fix: cst.CSTNode | None = None
        if scope.is_async and isinstance(parent, _FIXABLE_PARENTS):
            fix = cst.Await(expression=node)
        self.report(node, f"{label} is not awaited; write `await` before it", replacement=fix)
