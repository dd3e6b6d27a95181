"""Setup & teardown: initialize, process queued commands until told to stop, then clean up."""

from __future__ import annotations

from typing import Literal

import msgspec

from rivet_dsl import Actor, Loop, WorkflowContext, action, queue, setup, workflow


class WorkMessage(msgspec.Struct):
    amount: int


class ControlMessage(msgspec.Struct):
    type: Literal["stop"]
    reason: str


class SetupTeardownState(msgspec.Struct):
    phase: Literal["idle", "running", "stopped"] = "idle"
    total: int = 0
    processed: int = 0
    stop_reason: str | None = None


class SetupRunTeardown(Actor[SetupTeardownState]):
    @queue
    def work(self, body: WorkMessage) -> None: ...

    @queue
    def control(self, body: ControlMessage) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("setup", self.begin)

        async def each(loop: WorkflowContext) -> Loop[str] | None:
            message = await loop.queue.next("wait-command", names=[self.work, self.control])
            body = message.body
            if isinstance(body, WorkMessage):
                await loop.step("apply-work", self.apply, body.amount)
                return None
            if isinstance(body, ControlMessage) and body.type == "stop":
                return Loop.break_(body.reason)
            return None

        reason = await ctx.loop("worker-loop", each)
        await ctx.step("teardown", self.finish, reason)

    def begin(self) -> None:
        self.state.phase = "running"
        self.state.stop_reason = None

    def apply(self, amount: int) -> None:
        self.state.total += amount
        self.state.processed += 1

    def finish(self, reason: str) -> None:
        self.state.phase = "stopped"
        self.state.stop_reason = reason

    @action
    def get_state(self) -> SetupTeardownState:
        return self.state


registry = setup(SetupRunTeardown)
