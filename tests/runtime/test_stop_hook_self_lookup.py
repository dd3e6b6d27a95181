"""An actor's own ``on_sleep`` / ``on_destroy`` looking itself up fails fast (``actor/aborted``).

Every lookup of a stopping actor waits for its stop to end, so a caller never gets the dying
instance. The stop itself is waiting for the hook, though: a hook that looked its own actor up
(through ``self.client()``, by key or by id) waited for itself for ever. Only the stopping
code gets the error; every other caller still waits and then reaches the next incarnation.
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
OUTCOMES: list[tuple[str, str] | str] = []
#: Lets the test hold ``on_sleep`` open while another caller arrives.
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
        OUTCOMES.append((exc.group, exc.code))
    else:
        OUTCOMES.append("no error")


class Selfish(Actor[Count], sleep_timeout=10.0):
    """Its stop hooks run whatever lookup of itself the test put in ``LOOKUP``."""

    async def on_sleep(self) -> None:
        if "sleeping" in GATES:
            GATES["sleeping"].set()
            await GATES["finish_sleep"].wait()
        await _record_lookup(self, "on_sleep")
        OUTCOMES.append("slept")

    async def on_destroy(self) -> None:
        await _record_lookup(self, "on_destroy")

    @action
    def bump(self) -> int:
        self.state.count += 1
        return self.state.count

    @action
    def destroy_me(self) -> None:
        self.destroy()


registry = setup(Selfish)


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


@pytest.mark.parametrize("lookup", [_by_key, _get_by_key, _by_id])
async def test_on_sleep_looking_up_its_own_actor_fails_fast(lookup: Callable[[Actor[Any]], Awaitable[Any]]) -> None:
    LOOKUP["on_sleep"] = lookup
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor = env.client.get_or_create("selfish", ["sleepy"])
        assert await actor.action("bump") == 1
        async with asyncio.timeout(HANG_LIMIT_S):
            await clock.advance(10.0)  # idle timeout: the actor sleeps
        assert OUTCOMES == [("actor", "aborted"), "slept"]
        # The sleep finished (final save included): the next call wakes it with its state.
        assert await actor.action("bump") == 2


async def test_on_sleep_looking_itself_up_during_shutdown_fails_fast() -> None:
    LOOKUP["on_sleep"] = _by_key
    env = TestEnvironment(registry, clock=MockClock())
    async with env:
        await env.client.get_or_create("selfish", ["shutdown"]).action("bump")
        async with asyncio.timeout(HANG_LIMIT_S):
            await env.runtime.stop()
    assert OUTCOMES == [("actor", "aborted"), "slept"]


@pytest.mark.parametrize("lookup", [_by_key, _by_id])
async def test_on_destroy_looking_up_its_own_actor_fails_fast(lookup: Callable[[Actor[Any]], Awaitable[Any]]) -> None:
    LOOKUP["on_destroy"] = lookup
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor = env.client.get_or_create("selfish", ["doomed"])
        actor_id = await actor.resolve()
        async with asyncio.timeout(HANG_LIMIT_S):
            await actor.action("destroy_me")  # on_destroy runs inline, before the reply
        assert OUTCOMES == [("actor", "aborted")]
        assert await env.runtime.storage.load_actor(actor_id) is None  # the destroy completed


async def test_other_callers_still_wait_for_the_stop_and_reach_the_next_incarnation() -> None:
    GATES["sleeping"] = asyncio.Event()
    GATES["finish_sleep"] = asyncio.Event()
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor = env.client.get_or_create("selfish", ["shared"])
        assert await actor.action("bump") == 1
        sleeping = asyncio.ensure_future(clock.advance(10.0))
        await GATES["sleeping"].wait()
        # Another caller arrives while on_sleep runs: it is not refused, it waits for the stop.
        other = asyncio.ensure_future(actor.action("bump"))
        GATES["finish_sleep"].set()
        async with asyncio.timeout(HANG_LIMIT_S):
            assert await other == 2
            await sleeping
        assert OUTCOMES == ["slept"]
        assert env.runtime.wakes == 1  # it was served by a new incarnation, woken from storage
