"""Bounded drain + concurrency cap: at most 10 messages per iteration, 3 processed at a time."""

from __future__ import annotations

import asyncio

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow

MAX_PER_ITERATION = 10
CONCURRENCY_LIMIT = 3


class Work(msgspec.Struct):
    id: str
    value: int


async def process_work(value: int) -> int:
    return value * 2


class DrainState(msgspec.Struct):
    processed: int = 0
    last_window_size: int = 0
    last_window_total: int = 0


class BoundedDrain(Actor[DrainState]):
    @queue
    def work(self, body: Work) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            first = await loop.queue.next("wait-work", names=[self.work], timeout=30.0)
            if first is None:
                return
            # The rest of the window: whatever is already queued, bounded per iteration.
            rest = await loop.queue.next_batch(
                "drain-window", names=[self.work], count=MAX_PER_ITERATION - 1, timeout=0.01
            )
            window = [first.body, *(m.body for m in rest)]
            await loop.step("process-window", self.process_window, window)

        await ctx.loop("bounded-drain-loop", each)

    async def process_window(self, window: list[Work]) -> None:
        limit = asyncio.Semaphore(CONCURRENCY_LIMIT)

        async def one(work: Work) -> int:
            async with limit:
                return await process_work(work.value)

        results = await asyncio.gather(*(one(w) for w in window))
        self.state.processed += len(window)
        self.state.last_window_size = len(window)
        self.state.last_window_total = sum(results)

    @action
    def get_state(self) -> DrainState:
        return self.state


registry = setup(BoundedDrain)
