"""RVT008: sleep with ``ctx.sleep``, not ``asyncio.sleep``/``time.sleep``."""

from __future__ import annotations

from .._types import Invalid, Valid
from ._base import BannedName

__all__ = ["UseContextSleep"]


class UseContextSleep(BannedName):
    """A plain sleep is not durable: a restart forgets it and replay sleeps again.

    No autofix: the durable timer needs a new, stable entry name, which only the author can choose.
    """

    CODE = "RVT008"
    CATEGORY = "sleep"
    MESSAGE = "non-durable sleep in workflow code; use `await ctx.sleep(name, seconds)`"
    VALID = (
        Valid(
            """
            import asyncio
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.sleep("pause", 1.5)
                    await ctx.step("poll", self.poll)

                async def poll(self) -> None:
                    await asyncio.sleep(0.1)
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            import asyncio
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await asyncio.sleep(5)
            """,
            line=7,
            col=15,
            expected_message="use `await ctx.sleep(name, seconds)`",
        ),
        Invalid(
            """
            from time import sleep
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    sleep(1)
            """,
            expected_message="`time.sleep`",
        ),
        Invalid(
            """
            import anyio
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.race("r", {"work": self.work, "timeout": self.timeout})

                async def timeout(self, branch: WorkflowContext) -> None:
                    await anyio.sleep(3)
            """,
            line=10,
            expected_message="`anyio.sleep`",
        ),
    )
