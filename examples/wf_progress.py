"""Store workflow progress in state and broadcast it, so clients render it in realtime."""

from __future__ import annotations

from typing import Literal

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, event, queue, setup, workflow


class Job(msgspec.Struct):
    value: int


class Progress(msgspec.Struct):
    stage: Literal["idle", "running", "completed"] = "idle"
    completed: int = 0
    total: int = 0


class ProgressState(msgspec.Struct):
    progress: Progress = msgspec.field(default_factory=Progress)
    sum: int = 0


class ProgressActor(Actor[ProgressState]):
    @event
    def progress_updated(self, progress: Progress) -> None: ...

    @queue
    def jobs(self, body: Job) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-job", names=[self.jobs])
            await loop.step("mark-running", self.mark_running)
            await loop.step("apply-job", self.apply, message.body.value)

        await ctx.loop("progress-loop", each)

    def mark_running(self) -> None:
        p = self.state.progress
        self.state.progress = Progress("running", p.completed, p.total + 1)
        self.progress_updated(self.state.progress)

    def apply(self, value: int) -> None:
        self.state.sum += value
        p = self.state.progress
        self.state.progress = Progress("completed", p.completed + 1, p.total)
        self.progress_updated(self.state.progress)

    @action
    def get_state(self) -> ProgressState:
        return self.state


registry = setup(ProgressActor)
