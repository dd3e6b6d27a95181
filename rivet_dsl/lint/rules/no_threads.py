"""RVT007: no threads or unrecorded tasks in workflow code outside a step."""

from __future__ import annotations

from .._types import Invalid, Valid
from ._base import BannedName

__all__ = ["NoThreads"]


class NoThreads(BannedName):
    """Concurrency the history does not record interleaves differently on replay."""

    CODE = "RVT007"
    CATEGORY = "thread"
    MESSAGE = "unrecorded concurrency in workflow code; use `ctx.join`/`ctx.race` or do it inside a step"
    VALID = (
        Valid(
            """
            import asyncio
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.join("both", {"a": self.a, "b": self.b})
                    await ctx.step("fan-out", lambda: asyncio.gather(self.x(), self.y()))

                async def a(self, branch: WorkflowContext) -> int:
                    return await branch.step("a", self.x)

                async def b(self, branch: WorkflowContext) -> int:
                    return await branch.step("b", self.y)
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            import threading
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    threading.Thread(target=self.work).start()
            """,
            line=7,
            col=9,
            expected_message="`threading.Thread` in workflow code outside a step starts concurrent work",
        ),
        Invalid(
            """
            import asyncio
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    a, b = await asyncio.gather(ctx.step("a", self.a), ctx.step("b", self.b))
            """,
            expected_message="use `ctx.join(...)`",
        ),
        Invalid(
            """
            from concurrent.futures import ThreadPoolExecutor
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    with ThreadPoolExecutor() as pool:
                        pool.submit(self.work)
            """,
            expected_message="`concurrent.futures.ThreadPoolExecutor`",
        ),
    )
