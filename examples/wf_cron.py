"""Cron (queue-driven): a scheduled action enqueues ticks; the workflow processes them."""

from __future__ import annotations

import math
from typing import Any

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow

MINUTE = 60.0


def next_minute(timestamp: float) -> float:
    return math.floor(timestamp / MINUTE) * MINUTE + MINUTE


class CronTick(msgspec.Struct):
    scheduled_at: float


class CronState(msgspec.Struct):
    runs: int = 0
    last_run_at: float | None = None


class Cron(Actor[CronState]):
    @queue(name="cron-tick")
    def cron_tick(self, body: CronTick) -> None: ...

    async def on_create(self, input: Any) -> None:
        first = next_minute(self.now())
        await self.schedule.at(first, self.enqueue_cron_tick, first)

    def now(self) -> float:
        return float(self._rivet.runtime.clock.now())  # type: ignore[attr-defined]

    @action
    async def enqueue_cron_tick(self, scheduled_at: float) -> None:
        await self.cron_tick.send(CronTick(scheduled_at))
        following = next_minute(scheduled_at + 1)
        await self.schedule.at(following, self.enqueue_cron_tick, following)

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-cron-tick", names=[self.cron_tick])
            await loop.step("run-cron-job", self.run_job, message.body.scheduled_at)

        await ctx.loop("cron-loop", each)

    def run_job(self, scheduled_at: float) -> None:
        self.state.runs += 1
        self.state.last_run_at = scheduled_at

    @action
    def get_state(self) -> CronState:
        return self.state


registry = setup(Cron)
