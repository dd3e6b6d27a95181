"""Batch drainer: buffer messages in state and flush them five at a time."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow

BATCH = 5


class Metric(msgspec.Struct):
    value: int


class DrainerState(msgspec.Struct):
    pending: list[int] = msgspec.field(default_factory=list)
    flushed_batches: int = 0
    last_batch_total: int = 0


class BatchDrainer(Actor[DrainerState]):
    @queue
    def metrics(self, body: Metric) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-metric", names=[self.metrics], timeout=5.0)
            # State is step-only: the step reports how many values are buffered.
            buffered = await loop.step("buffer-message", self.buffer, None if message is None else message.body.value)
            if buffered >= BATCH:
                await loop.step("flush-batch", self.flush)

        await ctx.loop("drain-loop", each)

    def buffer(self, value: int | None) -> int:
        if value is not None:
            self.state.pending.append(value)
        return len(self.state.pending)

    def flush(self) -> None:
        self.state.last_batch_total = sum(self.state.pending)
        self.state.flushed_batches += 1
        self.state.pending = []

    @action
    def get_state(self) -> DrainerState:
        return self.state


registry = setup(BatchDrainer)
