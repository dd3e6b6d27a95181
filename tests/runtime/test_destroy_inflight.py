"""Destroy and the calls still in flight on the actor (SEMANTICS: "a destroyed actor leaves
nothing behind").

A call that was running when the actor was destroyed either finished (its writes committed)
before the destroy deleted the actor, and is answered; or it ends after the delete, and then it
fails with ``actor/not_found`` and nothing it wrote lands in storage: no schedule, no queue
message, no state, no key-value entry, no alarm for an actor that no longer exists.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, ActorNotFoundError, action, queue, setup
from rivet_dsl.runtime import Runtime
from rivet_dsl.testing import MockClock, TestEnvironment

#: Gates the actors below wait on, by name; each test makes fresh ones (see ``_gates``).
GATES: dict[str, asyncio.Event] = {}


def _gates(*names: str) -> None:
    GATES.clear()
    for name in names:
        GATES[name] = asyncio.Event()


class State(msgspec.Struct):
    count: int = 0
    log: list[str] = msgspec.field(default_factory=list)


class Lingering(Actor[State], sleep_timeout=10.0):
    """Actions that go on after a gate the test opens once the actor is destroyed."""

    @queue
    def jobs(self, body: int) -> None: ...

    async def on_destroy(self) -> None:
        GATES["destroying"].set()
        await GATES["destroy"].wait()

    async def on_before_connect(self, params: Any) -> None:
        GATES["connecting"].set()
        await GATES["connect"].wait()

    @action
    async def schedule_later(self) -> str:
        GATES["entered"].set()
        await GATES["release"].wait()
        return await self.schedule.after(60.0, self.fire, "late")

    @action
    async def write_later(self) -> int:
        GATES["entered"].set()
        await GATES["release"].wait()
        self.state.count += 1
        await self.jobs.send(7)
        return self.state.count

    @action
    async def read_later(self) -> int:
        GATES["entered"].set()
        await GATES["release"].wait()
        return self.state.count

    @action
    async def bump_early(self) -> int:
        GATES["early_entered"].set()
        await GATES["early"].wait()
        self.state.count += 1
        return self.state.count

    @action
    async def slow_fire(self) -> None:
        """Fired by a schedule: waits, then schedules another call."""
        GATES["entered"].set()
        await GATES["release"].wait()
        await self.schedule.after(60.0, self.fire, "again")

    @action
    async def plan_slow_fire(self) -> str:
        return await self.schedule.after(1.0, self.slow_fire)

    @action
    def fire(self, label: str) -> None:
        self.state.log.append(label)


registry = setup(Lingering)

# The default on_destroy waits for this gate: tests that do not care open it at once.
_OPEN = ("destroying", "destroy", "connecting", "connect", "entered", "release", "early_entered", "early")


async def _nothing_left(runtime: Runtime, actor_id: str) -> None:
    storage = runtime.storage
    await storage.commit()  # whatever is still pending lands (or is dropped) first
    assert await storage.load_actor(actor_id) is None
    assert await storage.load_schedules(actor_id) == []
    assert await storage.load_queue(actor_id) == []
    assert await storage.load_kv(actor_id) == []
    assert actor_id not in {a for a, _ in await storage.load_alarms()}


async def test_an_action_scheduling_after_the_destroy_fails_and_leaves_no_schedule() -> None:
    _gates(*_OPEN)
    GATES["destroy"].set()
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("lingering", ["schedule"])).actor_id
        call = asyncio.ensure_future(env.runtime.call(actor_id, "schedule_later", []))
        await GATES["entered"].wait()
        await env.runtime.destroy(actor_id)
        GATES["release"].set()
        with pytest.raises(ActorNotFoundError):
            await call
        await _nothing_left(env.runtime, actor_id)
        await env.restart()
        await _nothing_left(env.runtime, actor_id)


async def test_an_action_writing_after_the_destroy_fails_and_leaves_no_message_or_state() -> None:
    _gates(*_OPEN)
    GATES["destroy"].set()
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("lingering", ["write"])).actor_id
        call = asyncio.ensure_future(env.runtime.call(actor_id, "write_later", []))
        await GATES["entered"].wait()
        await env.runtime.destroy(actor_id)
        GATES["release"].set()
        with pytest.raises(ActorNotFoundError):
            await call
        await _nothing_left(env.runtime, actor_id)
        with pytest.raises(ActorNotFoundError):
            await env.runtime.call(actor_id, "read_later", [])


async def test_a_call_is_answered_if_it_ends_before_the_delete_and_refused_if_after() -> None:
    _gates(*_OPEN)
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("lingering", ["both"])).actor_id
        early = asyncio.ensure_future(env.runtime.call(actor_id, "bump_early", []))
        late = asyncio.ensure_future(env.runtime.call(actor_id, "read_later", []))
        await GATES["early_entered"].wait()
        await GATES["entered"].wait()
        destroy = asyncio.ensure_future(env.runtime.destroy(actor_id))
        await GATES["destroying"].wait()
        # on_destroy is running: the actor still exists, and a call that ends now is answered.
        GATES["early"].set()
        assert await early == 1
        GATES["destroy"].set()
        await destroy
        # The actor is gone: a call that ends now has nothing to answer for.
        GATES["release"].set()
        with pytest.raises(ActorNotFoundError):
            await late
        await _nothing_left(env.runtime, actor_id)


async def test_a_connection_opening_during_the_destroy_is_refused_and_not_kept() -> None:
    _gates(*_OPEN)
    GATES["destroy"].set()
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("lingering", ["conn"])).actor_id
        actor = await env.runtime.acquire(actor_id)
        closed: list[str | None] = []
        connect = asyncio.ensure_future(env.runtime.connect(actor_id, None, lambda e, a: None, closed.append))
        await GATES["connecting"].wait()
        await env.runtime.destroy(actor_id)
        GATES["connect"].set()
        with pytest.raises(ActorNotFoundError):
            await connect
        assert not actor.has_conns()
        await _nothing_left(env.runtime, actor_id)


async def test_a_scheduled_action_running_during_the_destroy_leaves_no_schedule() -> None:
    _gates(*_OPEN)
    GATES["destroy"].set()
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("lingering", ["alarm"])).actor_id
        await env.runtime.call(actor_id, "plan_slow_fire", [])
        advance = asyncio.ensure_future(clock.advance(1.0))  # fires slow_fire
        await GATES["entered"].wait()
        await env.runtime.destroy(actor_id)
        GATES["release"].set()
        await advance  # the alarm's work ends quietly: the actor is gone
        await _nothing_left(env.runtime, actor_id)
        assert actor_id not in env.runtime._alarms  # and no timer is armed for it
