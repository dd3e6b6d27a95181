"""Signal-driven control loop: progress is triggered by commands, not polling."""

from __future__ import annotations

from typing import Literal

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class ControlSignal(msgspec.Struct):
    kind: Literal["pause", "resume", "stop"]


class ControlState(msgspec.Struct):
    mode: Literal["running", "paused", "stopped"] = "running"
    handled_signals: int = 0


class ControlLoop(Actor[ControlState]):
    @queue
    def signals(self, body: ControlSignal) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-signal", names=[self.signals], timeout=30.0)
            if message is None:
                return
            await loop.step("apply-signal", self.apply, message.body.kind)

        await ctx.loop("control-loop", each)

    def apply(self, kind: Literal["pause", "resume", "stop"]) -> None:
        self.state.handled_signals += 1
        self.state.mode = {"pause": "paused", "resume": "running", "stop": "stopped"}[kind]  # type: ignore[assignment]

    @action
    def get_state(self) -> ControlState:
        return self.state


registry = setup(ControlLoop)
