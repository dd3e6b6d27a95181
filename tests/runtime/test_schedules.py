"""Schedules: persisted, fire once at their time, after restarts and from sleep."""

from __future__ import annotations

from rivet_dsl.testing import MockClock, TestEnvironment

from .actors import registry


async def test_after_at_list_cancel_and_fire_in_order() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor = env.client.get_or_create("scheduled", ["s1"])
        await actor.action("remind_in", 5.0, "five")
        await actor.action("remind_at", clock.now() + 2.0, "two")
        cancelled = await actor.action("remind_in", 3.0, "three")
        assert await actor.action("pending") == ["two", "three", "five"]
        assert await actor.action("cancel", cancelled) is True
        assert await actor.action("cancel", cancelled) is False
        await clock.advance(2.5)
        assert (await actor.action("get_state"))["log"] == ["two"]
        await clock.advance(10)
        state = await actor.action("get_state")
        assert state["log"] == ["two", "five"]
        assert await actor.action("pending") == []


async def test_schedule_wakes_a_sleeping_actor() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor = env.client.get_or_create("scheduled", ["s2"])
        await actor.action("remind_in", 3600.0, "hourly")
        await clock.advance(11)
        assert env.runtime.live_count() == 0
        await clock.advance(3600)
        assert env.runtime.wakes == 1
        assert (await actor.action("get_state"))["log"] == ["hourly"]


async def test_schedule_fires_after_a_restart_exactly_once() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor = env.client.get_or_create("scheduled", ["s3"])
        await actor.action("remind_in", 60.0, "after-crash")
        await env.restart()
        assert env.runtime.live_count() == 0
        await clock.advance(61)
        assert (await actor.action("get_state"))["log"] == ["after-crash"]
        await env.restart()
        await clock.advance(600)
        state = await actor.action("get_state")
        assert state["log"] == ["after-crash"] and state["count"] == 1


async def test_due_schedules_fire_on_wake_after_downtime(tmp_path: object) -> None:
    db = f"{tmp_path}/down.db"
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock, db=db) as env:
        await env.client.get_or_create("scheduled", ["s4"]).action("remind_in", 30.0, "missed")
    await clock.advance(100)  # the process was down when it fell due
    async with TestEnvironment(registry, clock=clock, db=db) as env:
        await clock.advance(0)
        assert (await env.client.get_or_create("scheduled", ["s4"]).action("get_state"))["log"] == ["missed"]
