"""RVT005: no environment reads in workflow code outside a step."""

from __future__ import annotations

from .._types import Invalid, Valid
from ._base import BannedName

__all__ = ["NoEnvironment"]


class NoEnvironment(BannedName):
    """The environment can differ between the run that recorded the history and the one replaying it."""

    CODE = "RVT005"
    CATEGORY = "environment"
    MESSAGE = "environment read in workflow code outside a step; read it inside `await ctx.step(...)`"
    VALID = (
        Valid(
            """
            import os
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    region = await ctx.step("region", lambda: os.environ.get("REGION", "eu"))
                    path = os.path.join("a", region)
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            import os
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    region = os.environ.get("REGION", "eu")
            """,
            line=7,
            col=18,
            expected_message="`os.environ` in workflow code outside a step reads the process environment",
        ),
        Invalid(
            """
            from os import getenv
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    if getenv("FAST"):
                        await ctx.step("fast", self.fast)
            """,
            expected_message="`os.getenv`",
        ),
    )
