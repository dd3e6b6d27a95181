"""Versioned workflow evolution: retire old entries with `removed`, gate new paths by version."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, setup, workflow


class VersionedState(msgspec.Struct):
    runs: int = 0


class VersionedWorkflow(Actor[VersionedState]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("validate-v2", self.bump)
        await ctx.removed("validate-v1", "step")

        async def each(loop: WorkflowContext) -> None:
            await loop.sleep("idle", 0.5)
            await loop.step("heartbeat-v2", self.bump)

        await ctx.loop("main-loop-v2", each)

    def bump(self) -> None:
        self.state.runs += 1

    @action
    def get_state(self) -> VersionedState:
        return self.state


registry = setup(VersionedWorkflow)
