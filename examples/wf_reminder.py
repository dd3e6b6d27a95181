"""Timers: a queue message triggers a durable sleep until the reminder's time."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Reminder(msgspec.Struct):
    text: str
    at: float  #: epoch seconds


class ReminderState(msgspec.Struct):
    fired: list[str] = msgspec.field(default_factory=list)


class WorkflowReminder(Actor[ReminderState]):
    @queue
    def reminders(self, body: Reminder) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-reminder", names=[self.reminders])
            # The deadline is the message's own time (deterministic), recorded on first run.
            await loop.sleep_until("wait-until-reminder", message.body.at)
            await loop.step("record-reminder", self.record, message.body.text)

        await ctx.loop("reminder-loop", each)

    def record(self, text: str) -> None:
        self.state.fired.append(text)

    @action
    def get_state(self) -> ReminderState:
        return self.state


registry = setup(WorkflowReminder)
