"""``action_timeout`` and a queue sender's wait run on the runtime's clock, like step timeouts
and connection-hook limits: a test moves them with :class:`MockClock`, with no real waiting.

Before, the action limit was ``asyncio.timeout`` and the send's wait ``asyncio.wait_for``, both
on the event loop's timer: advancing the mock clock did nothing, and a hanging action or a
waiting sender ran for the real limit (here far longer than the tests' safety net).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
import pytest

from rivet_dsl import Actor, action, queue, setup
from rivet_dsl._errors import ActionTimedOutError
from rivet_dsl.client import ActorError
from rivet_dsl.runtime import Timer
from rivet_dsl.testing import MockClock, TestEnvironment

#: Real seconds a test waits for what the mock clock should have caused. The limits below are
#: far longer, so a limit on the real clock would fail these tests instead of passing late.
SAFETY_NET_S = 5.0
ACTION_TIMEOUT = 30.0
OWN_TIMEOUT = 12.0
SEND_TIMEOUT = 20.0

GATES: dict[str, asyncio.Event] = {}
ENDINGS: dict[str, str] = {}


class Job(msgspec.Struct):
    n: int


async def _held(name: str) -> str:
    GATES[f"entered:{name}"].set()
    try:
        await GATES[f"finish:{name}"].wait()
    except asyncio.CancelledError:
        ENDINGS[name] = "cancelled"
        raise
    ENDINGS[name] = "finished"
    return name


class Hanging(Actor[None], sleep_timeout=600.0, action_timeout=ACTION_TIMEOUT):
    @queue
    def jobs(self, body: Job) -> int: ...

    @action
    async def hang(self) -> str:
        return await _held("hang")

    @action(timeout=OWN_TIMEOUT)
    async def hang_own(self) -> str:
        return await _held("hang_own")

    @action
    def quick(self) -> str:
        return "done"


registry = setup(Hanging)


class WatchedClock(MockClock):
    """A :class:`MockClock` that tells when a timer is armed (so a test knows a wait began)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed: dict[float, asyncio.Event] = {}

    def arming(self, when: float) -> asyncio.Event:
        return self.armed.setdefault(when, asyncio.Event())

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        timer = super().call_at(when, callback)
        self.arming(when).set()
        return timer


@pytest.fixture(autouse=True)
def _fresh() -> None:
    GATES.clear()
    ENDINGS.clear()
    for name in ("hang", "hang_own"):
        GATES[f"entered:{name}"] = asyncio.Event()
        GATES[f"finish:{name}"] = asyncio.Event()


@pytest.mark.parametrize(("name", "limit"), [("hang", ACTION_TIMEOUT), ("hang_own", OWN_TIMEOUT)])
async def test_a_hanging_action_fails_when_the_clock_passes_its_limit(name: str, limit: float) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("hanging", [name])
        calling = asyncio.ensure_future(handle.action(name))
        await GATES[f"entered:{name}"].wait()
        await clock.advance(limit - 0.5)
        assert not calling.done() and ENDINGS == {}  # not before its limit
        await clock.advance(0.5)
        with pytest.raises(ActorError) as info:
            async with asyncio.timeout(SAFETY_NET_S):
                await calling
        error = info.value
        assert (error.group, error.code, error.status) == ("actor", "action_timed_out", 408)
        assert error.metadata == {"timeout": limit}
        assert ENDINGS == {name: "cancelled"}
        assert await handle.action("quick") == "done"


async def test_the_runtime_raises_action_timed_out_error() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("hanging", ["runtime"])).actor_id
        calling = asyncio.ensure_future(env.runtime.call(actor_id, "hang", []))
        await GATES["entered:hang"].wait()
        await clock.advance(ACTION_TIMEOUT)
        with pytest.raises(ActionTimedOutError):
            async with asyncio.timeout(SAFETY_NET_S):
                await calling


async def test_an_action_that_ends_in_time_is_answered_and_its_limit_disarmed() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("hanging", ["in-time"])
        calling = asyncio.ensure_future(handle.action("hang"))
        await GATES["entered:hang"].wait()
        deadline = clock.now() + ACTION_TIMEOUT
        assert deadline in clock.pending()
        await clock.advance(ACTION_TIMEOUT - 1)
        GATES["finish:hang"].set()
        assert await calling == "hang"
        assert deadline not in clock.pending()
        await clock.advance(ACTION_TIMEOUT)
        assert ENDINGS == {"hang": "finished"}


async def test_a_caller_cancelling_an_action_is_a_cancellation_not_a_timeout() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("hanging", ["gone"])).actor_id
        calling = asyncio.ensure_future(env.runtime.call(actor_id, "hang", []))
        await GATES["entered:hang"].wait()
        deadline = clock.now() + ACTION_TIMEOUT
        calling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await calling
        assert ENDINGS == {"hang": "cancelled"}
        assert deadline not in clock.pending()


async def test_a_waiting_sender_times_out_when_the_clock_passes_its_timeout() -> None:
    clock = WatchedClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("hanging", ["sender"])
        await handle.resolve()
        deadline = clock.now() + SEND_TIMEOUT
        armed = clock.arming(deadline)
        sending = asyncio.ensure_future(handle.send("jobs", Job(1), wait=True, timeout=SEND_TIMEOUT))
        async with asyncio.timeout(SAFETY_NET_S):
            await armed.wait()  # the message is durable and its sender waits
        await clock.advance(SEND_TIMEOUT - 0.5)
        assert not sending.done()
        await clock.advance(0.5)
        async with asyncio.timeout(SAFETY_NET_S):
            result = await sending
        assert result.status == "timed_out"
        assert await handle.action("quick") == "done"


async def test_a_request_send_bounded_by_action_timeout_times_out_on_the_clock() -> None:
    """The server's queue route bounds a wait by ``action_timeout`` through ``request_send``."""
    clock = WatchedClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("hanging", ["request"])).actor_id
        deadline = clock.now() + ACTION_TIMEOUT
        armed = clock.arming(deadline)
        sending = asyncio.ensure_future(
            env.runtime.request_send(actor_id, "jobs", {"n": 2}, wait=True, timeout=ACTION_TIMEOUT)
        )
        async with asyncio.timeout(SAFETY_NET_S):
            await armed.wait()
        await clock.advance(ACTION_TIMEOUT)
        async with asyncio.timeout(SAFETY_NET_S):
            result = await sending
        assert result.status == "timed_out"


async def test_a_zero_timeout_sender_is_told_timed_out_at_once() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("hanging", ["zero"])
        async with asyncio.timeout(SAFETY_NET_S):
            result = await handle.send("jobs", Job(3), wait=True, timeout=0)
        assert result.status == "timed_out"
