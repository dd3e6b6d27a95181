"""Idle sleep never starts under a call (SEMANTICS 1, 18).

The idle sweep spawns the sleep of each actor idle for ``sleep_timeout``; a call scheduled in
the same event-loop turn can enter the actor before that sleep runs. Sleeping then would save
and drop the actor while the call runs: the next call wakes a second incarnation and is
acknowledged, and the first call's final save lands over it, losing the acknowledged write.
"""

from __future__ import annotations

import asyncio

import msgspec

from rivet_dsl import Actor, action, setup
from rivet_dsl.testing import MockClock, TestEnvironment


class Count(msgspec.Struct):
    n: int = 0


class Gated(Actor[Count], sleep_timeout=10.0):
    gate: asyncio.Event | None = None

    @action
    async def slow(self) -> int:
        self.state.n += 1
        assert Gated.gate is not None
        await Gated.gate.wait()
        self.state.n += 1000
        return self.state.n

    @action
    def inc(self) -> int:
        self.state.n += 1
        return self.state.n

    @action
    def get(self) -> int:
        return self.state.n


registry = setup(Gated)


async def test_a_call_entering_in_the_sweeps_turn_keeps_the_actor_awake() -> None:
    clock = MockClock()
    Gated.gate = asyncio.Event()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("gated", ["x"])
        assert await handle.action("get") == 0
        actor_id = await handle.resolve()
        wakes = env.runtime.wakes
        slow = asyncio.ensure_future(env.runtime.call(actor_id, "slow", []))
        await clock.advance(10.0)  # the sweep's turn: `slow` is scheduled, not yet entered
        assert await handle.action("inc") == 2  # the same incarnation: it did not sleep
        assert env.runtime.wakes == wakes
        Gated.gate.set()
        assert await slow == 1002
        await env.restart()
        assert await handle.action("get") == 1002  # every acknowledged write is there
