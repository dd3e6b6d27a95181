"""Firing schedules that fall due together: they start one at a time, and one that has not
started yet is still pending (listed, cancellable, covered by the persisted alarm); none starts
once the actor is stopping or a scheduled action destroyed it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, ActorNotFoundError, action, setup
from rivet_dsl.testing import MockClock, TestEnvironment

#: Gates the actors below wait on, by name; each test makes fresh ones (see ``_gates``).
GATES: dict[str, asyncio.Event] = {}
#: User code that ran, in order (it outlives the actor's state, which a destroy deletes).
RAN: list[str] = []


def _gates(*names: str) -> None:
    GATES.clear()
    RAN.clear()
    for name in names:
        GATES[name] = asyncio.Event()


class Log(msgspec.Struct):
    log: list[str] = msgspec.field(default_factory=list)


class Firing(Actor[Log], sleep_timeout=10.0):
    @action
    async def plan(self) -> str:
        """``slow`` falls due first, ``fire("second")`` just after; returns the second's id."""
        await self.schedule.after(5.0, self.slow)
        return await self.schedule.after(6.0, self.fire, "second")

    @action
    async def slow(self) -> None:
        RAN.append("slow")
        GATES["slow_entered"].set()
        await GATES["slow_release"].wait()
        self.state.log.append("slow")

    @action
    def fire(self, label: str) -> None:
        RAN.append(label)
        self.state.log.append(label)

    @action
    async def remind_much_later(self) -> str:
        return await self.schedule.after(3600.0, self.fire, "much-later")

    @action
    async def cancel(self, schedule_id: str) -> bool:
        return await self.schedule.cancel(schedule_id)

    @action
    async def pending(self) -> list[str]:
        return [call.id for call in await self.schedule.list()]

    @action
    def get(self) -> list[str]:
        return self.state.log

    def on_sleep(self) -> None:
        RAN.append("on_sleep")


class Doomed(Actor[Log], sleep_timeout=10.0):
    @action
    async def plan(self) -> None:
        await self.schedule.after(5.0, self.boom)
        await self.schedule.after(6.0, self.late)

    @action
    def boom(self) -> None:
        RAN.append("boom")
        self.destroy()

    @action
    async def late(self) -> None:
        RAN.append("late")
        await self.schedule.after(100.0, self.late)

    def on_destroy(self) -> None:
        RAN.append("on_destroy")


registry = setup(Firing, Doomed)


async def _both_due(db: str, clock: MockClock, name: str) -> tuple[str, Any]:
    """Plan, then keep the process down until both schedules are due: they fire together.
    Returns the actor id and what ``plan`` returned."""
    async with TestEnvironment(registry, clock=clock, db=db) as env:
        handle = env.client.get_or_create(name, ["x"])
        planned = await handle.action("plan")
        actor_id = await handle.resolve()
    await clock.advance(60)
    RAN.clear()  # (the sleep at shutdown)
    return actor_id, planned


async def test_a_due_schedule_stays_cancellable_while_an_earlier_one_fires(tmp_path: Path) -> None:
    _gates("slow_entered", "slow_release")
    clock, db = MockClock(), str(tmp_path / "cancel.db")
    _, second = await _both_due(db, clock, "firing")
    async with TestEnvironment(registry, clock=clock, db=db) as env:
        handle = env.client.get_or_create("firing", ["x"])
        firing = asyncio.ensure_future(clock.advance(0))  # both due: `slow` starts, and waits
        await GATES["slow_entered"].wait()
        assert await handle.action("pending") == [second]
        assert await handle.action("cancel", second) is True
        assert await handle.action("pending") == []
        GATES["slow_release"].set()
        await firing
        assert await handle.action("get") == ["slow"]
        await env.restart()
        await clock.advance(600)
        assert await handle.action("get") == ["slow"]
        assert RAN == ["slow"]


async def test_a_crash_while_an_earlier_schedule_fires_keeps_the_alarm_of_the_next(tmp_path: Path) -> None:
    _gates("slow_entered", "slow_release")
    clock, db = MockClock(), str(tmp_path / "crash.db")
    await _both_due(db, clock, "firing")
    async with TestEnvironment(registry, clock=clock, db=db) as env:
        handle = env.client.get_or_create("firing", ["x"])
        firing = asyncio.ensure_future(clock.advance(0))
        await GATES["slow_entered"].wait()
        # A write persists the actor's alarm while `fire("second")` waits its turn: the alarm
        # must still be the second's (due now), not the much later one.
        await handle.action("remind_much_later")
        await env.restart()  # a crash: `slow` never finished, `second` never started
        with contextlib.suppress(asyncio.CancelledError):
            await firing
        GATES["slow_release"].set()
        await clock.advance(0)
        assert await handle.action("get") == ["slow", "second"]
        assert RAN == ["slow", "slow", "second"]  # `slow` again: its run was never committed


async def test_a_shutdown_while_a_schedule_fires_starts_no_other_and_keeps_it(tmp_path: Path) -> None:
    _gates("slow_entered", "slow_release")
    clock, db = MockClock(), str(tmp_path / "stop.db")
    await _both_due(db, clock, "firing")
    async with TestEnvironment(registry, clock=clock, db=db):
        firing = asyncio.ensure_future(clock.advance(0))
        await GATES["slow_entered"].wait()
    # The shutdown put the actor to sleep and cancelled `slow`; `second` did not start after it.
    with contextlib.suppress(asyncio.CancelledError):
        await firing
    assert RAN == ["slow", "on_sleep"]
    GATES["slow_release"].set()
    async with TestEnvironment(registry, clock=clock, db=db) as env:
        await clock.advance(0)  # the persisted alarm wakes the actor: `second` fires now
        assert "second" in await env.client.get_or_create("firing", ["x"]).action("get")
        assert RAN[2:].count("second") == 1


async def test_no_schedule_runs_after_a_scheduled_action_destroys_the_actor(tmp_path: Path) -> None:
    _gates()
    clock, db = MockClock(), str(tmp_path / "destroy.db")
    actor_id, _ = await _both_due(db, clock, "doomed")
    async with TestEnvironment(registry, clock=clock, db=db) as env:
        await clock.advance(0)  # `boom` destroys the actor; `late`, due too, must not run
        with pytest.raises(ActorNotFoundError):  # (waits for the destroy in progress)
            await env.runtime.call(actor_id, "late", [])
        assert RAN == ["boom", "on_destroy"]
        storage = env.runtime.storage
        await storage.commit()
        assert await storage.load_actor(actor_id) is None
        assert await storage.load_schedules(actor_id) == []
        await clock.advance(600)
        assert RAN == ["boom", "on_destroy"]
