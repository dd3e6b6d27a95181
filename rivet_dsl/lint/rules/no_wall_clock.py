"""RVT003: no clock reads in workflow code outside a step."""

from __future__ import annotations

from .._types import Invalid, Valid
from ._base import BannedName

__all__ = ["NoWallClock"]


class NoWallClock(BannedName):
    """Workflow code is re-executed on every replay; a clock read returns a different value each time."""

    CODE = "RVT003"
    CATEGORY = "clock"
    MESSAGE = "clock read in workflow code outside a step; read it inside `await ctx.step(...)`"
    VALID = (
        Valid(
            """
            import time
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    started = await ctx.step("started", time.time)
                    await ctx.step("stamp", lambda: time.monotonic() - started)
            """
        ),
        Valid(
            """
            import time
            from rivet_dsl import Actor, action

            class A(Actor[None]):
                @action
                async def now(self) -> float:
                    return time.time()
            """
        ),
        Valid(
            """
            import datetime
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.step("save", self.save)

                def save(self) -> None:
                    self.state = datetime.datetime.now()
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            import time
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    started = time.time()
            """,
            line=7,
            col=19,
            expected_message="`time.time` in workflow code outside a step reads the clock",
        ),
        Invalid(
            """
            from datetime import datetime as dt
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    if dt.now().hour > 12:
                        await ctx.step("late", self.late)
            """,
            expected_message="`datetime.datetime.now`",
        ),
        Invalid(
            """
            from time import monotonic
            import rivet_dsl as r

            class A(r.Actor[None]):
                @r.workflow
                async def run(self, ctx: r.WorkflowContext) -> None:
                    async def each(loop: r.WorkflowContext) -> None:
                        await loop.sleep("nap", monotonic() % 5)
                    await ctx.loop("tick", each)
            """,
            line=8,
            expected_message="`time.monotonic`",
        ),
    )
