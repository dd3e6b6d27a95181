"""Schedule times that cannot be stored or fired (NaN, infinities, absurd epochs) are refused
at the call with ``schedule/invalid_time``; nothing is written, and other actors whose writes
share the same group commit are not affected."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, ScheduleError, action, setup
from rivet_dsl.client import ActorError
from rivet_dsl.testing import MockClock, TestEnvironment


class Count(msgspec.Struct):
    n: int = 0


class Planner(Actor[Count], sleep_timeout=10.0):
    @action
    async def plan_after(self, seconds: float) -> str:
        return await self.schedule.after(seconds, self.noop)

    @action
    async def plan_at(self, when: float) -> str:
        return await self.schedule.at(when, "noop")

    @action
    async def plan_caught(self, seconds: float) -> list[Any]:
        """Catches the error: the actor goes on, and nothing was staged for the schedule."""
        try:
            await self.schedule.after(seconds, self.noop)
        except ScheduleError as exc:
            return [exc.group, exc.code]
        return []

    @action
    async def pending(self) -> int:
        return len(await self.schedule.list())

    @action
    def noop(self) -> None: ...

    @action
    def count(self) -> int:
        return self.state.n


class Counter(Actor[Count], sleep_timeout=10.0):
    @action
    def inc(self) -> int:
        self.state.n += 1
        return self.state.n


registry = setup(Planner, Counter)

BAD = [
    ("plan_after", math.nan),
    ("plan_after", math.inf),
    ("plan_after", -math.inf),
    ("plan_after", 1e300),
    ("plan_after", -1e300),
    ("plan_at", math.nan),
    ("plan_at", math.inf),
    ("plan_at", 1e300),
    ("plan_at", -1e300),
]


@pytest.mark.parametrize(("method", "value"), BAD)
async def test_an_invalid_time_fails_the_call_alone_and_changes_nothing(method: str, value: float) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        counters = [env.client.get_or_create("counter", [f"c{i}"]) for i in range(20)]
        for counter in counters:
            await counter.action("inc")
        planner = env.client.get_or_create("planner", ["p"])
        assert await planner.action("count") == 0

        async def outcome(call: Any) -> Any:
            try:
                return await call
            except ActorError as exc:
                return (exc.group, exc.code, exc.status)

        # The bad call lands in the middle of a burst of unrelated writes (one group commit).
        calls = [outcome(c.action("inc")) for c in counters]
        calls.insert(10, outcome(planner.action(method, value)))
        results = await asyncio.gather(*calls)
        assert results.pop(10) == ("schedule", "invalid_time", 400)
        assert results == [2] * 20
        assert await planner.action("pending") == 0
        await env.restart()  # what was acknowledged is durable; the refused call left nothing
        assert [await c.action("inc") for c in counters] == [3] * 20
        assert await planner.action("pending") == 0
        assert await env.runtime.storage.load_schedules(await planner.resolve()) == []


async def test_actor_code_can_catch_the_invalid_time_and_go_on() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        planner = env.client.get_or_create("planner", ["caught"])
        assert await planner.action("plan_caught", math.nan) == ["schedule", "invalid_time"]
        assert await planner.action("pending") == 0
        assert await planner.action("plan_caught", 5.0) == []
        assert await planner.action("pending") == 1
