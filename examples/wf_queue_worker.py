"""Queue-driven worker: external systems enqueue jobs; each is processed durably."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Job(msgspec.Struct):
    id: str
    amount: int


class WorkerState(msgspec.Struct):
    processed: int = 0
    total_amount: int = 0


class QueueWorker(Actor[WorkerState]):
    @queue
    def jobs(self, body: Job) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-job", names=[self.jobs], timeout=30.0)
            if message is None:
                return  # nothing within 30 s: loop again
            await loop.step("process-job", self.process, message.body.amount)

        await ctx.loop("worker-loop", each)

    def process(self, amount: int) -> None:
        self.state.processed += 1
        self.state.total_amount += amount

    @action
    def get_state(self) -> WorkerState:
        return self.state


registry = setup(QueueWorker)
