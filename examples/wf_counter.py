"""Loops: one durable workflow loop receives commands from a queue and applies them."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class CounterCommand(msgspec.Struct):
    delta: int


class CounterState(msgspec.Struct):
    value: int = 0
    processed: int = 0


class WorkflowCounter(Actor[CounterState]):
    @queue
    def counter(self, body: CounterCommand) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-counter-command", names=[self.counter])
            await loop.step("apply-counter-command", self.apply, message.body.delta)

        await ctx.loop("counter-loop", each)

    def apply(self, delta: int) -> None:
        self.state.value += delta
        self.state.processed += 1

    @action
    def get_state(self) -> CounterState:
        return self.state


registry = setup(WorkflowCounter)
