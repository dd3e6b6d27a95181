"""A scheduled reminder: durable schedules fire even after the actor slept or the process died."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, ScheduledCall, action, event, setup


class ReminderState(msgspec.Struct):
    message: str = ""
    fired: list[str] = msgspec.field(default_factory=list)


class ReminderPayload(msgspec.Struct):
    message: str


class Reminder(Actor[ReminderState]):
    @event
    def reminder(self, payload: ReminderPayload) -> None: ...

    @action
    async def set_reminder(self, message: str, delay: float) -> str:
        """Remind in `delay` seconds; returns the schedule id."""
        self.state.message = message
        return await self.schedule.after(delay, self.send_reminder)

    @action
    async def set_reminder_at(self, message: str, timestamp: float) -> str:
        """Remind at `timestamp` (epoch seconds)."""
        self.state.message = message
        return await self.schedule.at(timestamp, self.send_reminder)

    @action
    async def cancel_reminder(self, schedule_id: str) -> bool:
        return await self.schedule.cancel(schedule_id)

    @action
    async def pending(self) -> list[ScheduledCall]:
        return await self.schedule.list()

    @action
    def send_reminder(self) -> None:
        self.state.fired.append(self.state.message)
        self.reminder(ReminderPayload(message=self.state.message))

    @action
    def get_state(self) -> ReminderState:
        return self.state


registry = setup(Reminder)
