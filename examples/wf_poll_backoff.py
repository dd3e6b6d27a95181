"""Poll + backoff: poll a dependency; slow down (exponentially) after failures."""

from __future__ import annotations

from typing import Literal

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, setup, workflow


async def poll_external(attempt: int) -> bool:
    return attempt % 3 == 0


class PollState(msgspec.Struct):
    attempts: int = 0
    backoff: float = 0.1
    status: Literal["unknown", "healthy", "retrying"] = "unknown"


class PollBackoff(Actor[PollState]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            success = await loop.step("poll-target", self.poll)
            if success:
                await loop.step("reset-backoff", self.reset)
                await loop.sleep("healthy-interval", 1.0)
                return
            # State is step-only: the step returns the delay the workflow sleeps.
            delay = await loop.step("grow-backoff", self.grow)
            await loop.sleep("retry-delay", delay)

        await ctx.loop("poll-loop", each)

    async def poll(self) -> bool:
        self.state.attempts += 1
        return await poll_external(self.state.attempts)

    def reset(self) -> None:
        self.state.status = "healthy"
        self.state.backoff = 0.1

    def grow(self) -> float:
        self.state.status = "retrying"
        self.state.backoff = min(self.state.backoff * 2, 5.0)
        return self.state.backoff

    @action
    def get_state(self) -> PollState:
        return self.state


registry = setup(PollBackoff)
