"""RVT004: no random numbers or fresh UUIDs in workflow code outside a step."""

from __future__ import annotations

from .._types import Invalid, Valid
from ._base import BannedName

__all__ = ["NoRandomness"]


class NoRandomness(BannedName):
    """A random value differs on replay, so the workflow can take a path its history does not have."""

    CODE = "RVT004"
    CATEGORY = "random"
    MESSAGE = "randomness in workflow code outside a step; generate it inside `await ctx.step(...)`"
    VALID = (
        Valid(
            """
            import random
            import uuid
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    order_id = await ctx.step("new-id", lambda: str(uuid.uuid4()))
                    delay = await ctx.step("jitter", random.random)
                    await ctx.sleep("backoff", delay)
                    key = uuid.uuid5(uuid.NAMESPACE_URL, order_id)
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            import random
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.sleep("backoff", random.uniform(1, 2))
            """,
            line=7,
            col=36,
            expected_message="`random.uniform` in workflow code outside a step is random",
        ),
        Invalid(
            """
            from uuid import uuid4
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.step("create", self.create, uuid4())
            """,
            expected_message="`uuid.uuid4`",
        ),
        Invalid(
            """
            import secrets
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    token = secrets.token_hex(8)
            """,
            expected_message="`secrets.token_hex`",
        ),
    )
