"""An actor's own start (``create_state``, ``on_create``, ``on_wake``) looking itself up fails
fast (``actor/aborted``), as its own stop does (see ``test_stop_hook_self_lookup``).

Every lookup of a starting actor waits for its start to end, so a caller never gets a
half-built instance. The start itself is waiting for the hook, though: a hook that looked its
own actor up (through ``self.client()``, by key or by id) waited for itself for ever. Only the
starting code gets the error; every other caller still waits for the start and is served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, action, setup
from rivet_dsl.client import ActorError
from rivet_dsl.testing import MockClock, TestEnvironment

#: Far longer than any of these tests takes; the old code hung here for ever.
HANG_LIMIT_S = 10.0

#: What the hook under test does with its own actor, and what came of it, per test.
LOOKUP: dict[str, Callable[[Actor[Any]], Awaitable[Any]]] = {}
OUTCOMES: list[tuple[str, str, str] | str] = []
#: Lets a test hold ``on_create`` open while another caller arrives.
GATES: dict[str, asyncio.Event] = {}


class Count(msgspec.Struct):
    count: int = 0


async def _record_lookup(actor: Actor[Any], hook: str) -> None:
    lookup = LOOKUP.get(hook)
    if lookup is None:
        return
    try:
        await lookup(actor)
    except ActorError as exc:
        OUTCOMES.append((exc.group, exc.code, exc.message))
    else:
        OUTCOMES.append("no error")


class Selfish(Actor[Count], sleep_timeout=10.0):
    """Its start hooks run whatever lookup of itself the test put in ``LOOKUP``."""

    async def create_state(self, input: Any) -> Count:
        await _record_lookup(self, "create_state")
        return Count()

    async def on_create(self, input: Any) -> None:
        if "creating" in GATES:
            GATES["creating"].set()
            await GATES["finish_create"].wait()
        await _record_lookup(self, "on_create")
        OUTCOMES.append("created")

    async def on_wake(self) -> None:
        await _record_lookup(self, "on_wake")

    @action
    def bump(self) -> int:
        self.state.count += 1
        return self.state.count


class Caller(Actor[None]):
    """Calls ``Helper`` from its ``on_create`` and waits there until Helper's run loop has
    called it back: that callback must wait for the start, not be refused."""

    async def on_create(self, input: Any) -> None:
        await self.client().get_or_create("helper", ["h"]).action("ping")
        await GATES["helper_calling"].wait()
        OUTCOMES.append("caller created")

    @action
    def hello(self) -> str:
        return "hello"


class Helper(Actor[None]):
    async def run(self) -> None:
        # This run loop started inside Caller's start (its on_create woke this actor), yet
        # it is no part of that start.
        call = asyncio.ensure_future(self.client().get_or_create("caller", ["c"]).action("hello"))
        GATES["helper_calling"].set()
        try:
            OUTCOMES.append(await call)
        except ActorError as exc:
            OUTCOMES.append((exc.group, exc.code, exc.message))
        GATES["helper_done"].set()

    @action
    def ping(self) -> None:
        pass


registry = setup(Selfish, Caller, Helper)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    LOOKUP.clear()
    OUTCOMES.clear()
    GATES.clear()


async def _by_key(actor: Actor[Any]) -> Any:
    return await actor.client().get_or_create("selfish", list(actor.key)).action("bump")


async def _get_by_key(actor: Actor[Any]) -> Any:
    return await actor.client().get("selfish", list(actor.key)).resolve()


async def _by_id(actor: Actor[Any]) -> Any:
    return await actor.client().get_for_id("selfish", actor.actor_id).action("bump")


def _aborted(outcome: tuple[str, str, str] | str, hook: str) -> bool:
    return isinstance(outcome, tuple) and outcome[:2] == ("actor", "aborted") and hook in outcome[2]


@pytest.mark.parametrize("lookup", [_by_key, _get_by_key, _by_id])
async def test_on_create_looking_up_its_own_actor_fails_fast(lookup: Callable[[Actor[Any]], Awaitable[Any]]) -> None:
    LOOKUP["on_create"] = lookup
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor = env.client.get_or_create("selfish", ["new"])
        async with asyncio.timeout(HANG_LIMIT_S):
            assert await actor.action("bump") == 1  # the start finished: served as usual
        assert len(OUTCOMES) == 2 and _aborted(OUTCOMES[0], "on_create"), OUTCOMES
        assert OUTCOMES[1] == "created"


async def test_async_create_state_looking_up_its_own_actor_fails_fast() -> None:
    LOOKUP["create_state"] = _by_key
    async with TestEnvironment(registry, clock=MockClock()) as env:
        async with asyncio.timeout(HANG_LIMIT_S):
            assert await env.client.get_or_create("selfish", ["state"]).action("bump") == 1
        assert len(OUTCOMES) == 2 and _aborted(OUTCOMES[0], "create_state"), OUTCOMES


@pytest.mark.parametrize("lookup", [_by_key, _by_id])
async def test_on_wake_looking_up_its_own_actor_fails_fast(lookup: Callable[[Actor[Any]], Awaitable[Any]]) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor = env.client.get_or_create("selfish", ["sleepy"])
        assert await actor.action("bump") == 1
        await clock.advance(10.0)  # idle timeout: the actor sleeps
        OUTCOMES.clear()
        LOOKUP["on_wake"] = lookup
        async with asyncio.timeout(HANG_LIMIT_S):
            assert await actor.action("bump") == 2  # woken from storage, on_wake refused
        assert len(OUTCOMES) == 1 and _aborted(OUTCOMES[0], "on_wake"), OUTCOMES
        assert env.runtime.wakes == 1


async def test_other_callers_still_wait_for_the_start() -> None:
    GATES["creating"] = asyncio.Event()
    GATES["finish_create"] = asyncio.Event()
    async with TestEnvironment(registry, clock=MockClock()) as env:
        first = asyncio.ensure_future(env.client.get_or_create("selfish", ["shared"]).action("bump"))
        await GATES["creating"].wait()
        # Another caller arrives while on_create runs: it is not refused, it waits for the start.
        other = asyncio.ensure_future(env.client.get_or_create("selfish", ["shared"]).action("bump"))
        by_key = asyncio.ensure_future(env.client.get("selfish", ["shared"]).resolve())
        GATES["finish_create"].set()
        async with asyncio.timeout(HANG_LIMIT_S):
            assert sorted([await first, await other]) == [1, 2]
            assert await by_key
        assert OUTCOMES == ["created"]


async def test_a_task_the_runtime_spawns_during_a_start_is_not_part_of_it() -> None:
    # Caller's on_create wakes Helper, whose run loop (spawned inside Caller's start) calls
    # Caller: an ordinary caller, it waits for Caller's start and is then served.
    GATES["helper_calling"] = asyncio.Event()
    GATES["helper_done"] = asyncio.Event()
    async with TestEnvironment(registry, clock=MockClock()) as env:
        async with asyncio.timeout(HANG_LIMIT_S):
            assert await env.client.get_or_create("caller", ["c"]).action("hello") == "hello"
            await GATES["helper_done"].wait()  # Helper's call ends after Caller's start
        assert OUTCOMES == ["caller created", "hello"]
