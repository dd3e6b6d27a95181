"""A sender waiting on its message's completion (``send(..., wait=True)``) when the actor stops.

Destroyed, the actor and its messages are gone for good: the sender gets ``actor/not_found``,
as every other call in flight across a destroy does (``test_destroy_inflight``). Asleep, the
message stays queued for the next incarnation: the sender gets ``actor.aborted`` (Rivet's
answer to a wait cut short by the actor stopping).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, ActorAbortedError, ActorNotFoundError, action, queue, setup
from rivet_dsl.runtime import Runtime
from rivet_dsl.testing import MockClock, TestEnvironment


class Request(msgspec.Struct):
    n: int


class Unanswered(Actor[None], sleep_timeout=60.0):
    """Nobody receives: a waiting sender waits until the actor stops."""

    @queue
    def requests(self, body: Request) -> Request: ...


class TakeThenSleep(Actor[None], sleep_timeout=60.0):
    """Takes the message without being able to complete it, and the actor starts to sleep
    before that take's commit lands."""

    @queue
    def requests(self, body: Request) -> Request: ...

    @action
    async def take_and_sleep(self) -> int:
        message = await self.queue.next(names=[self.requests])
        runtime = RUNTIME[0]
        stopping = asyncio.ensure_future(runtime.sleep_live(await runtime.acquire(self.actor_id)))
        STOPS.append(stopping)
        return message.body.n


#: The runtime of the running test, for the action that puts its own actor to sleep.
RUNTIME: list[Runtime] = []
STOPS: list[asyncio.Future[None]] = []

registry = setup(Unanswered, TakeThenSleep)


async def _waiting_send(runtime: Runtime, actor_id: str) -> asyncio.Future[Any]:
    """A send that is queued and waiting for its completion."""
    send = asyncio.ensure_future(runtime.send(actor_id, "requests", {"n": 1}, wait=True, timeout=60.0))
    actor = await runtime.acquire(actor_id)
    while not actor.queue._completions:
        await asyncio.sleep(0)  # let the send run up to its wait (no time passes)
    return send


async def test_destroy_answers_a_waiting_sender_not_found() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("unanswered", ["destroyed"])).actor_id
        send = await _waiting_send(env.runtime, actor_id)
        await env.runtime.destroy(actor_id)
        with pytest.raises(ActorNotFoundError) as gone:
            await send
        assert (gone.value.group, gone.value.code) == ("actor", "not_found")


async def test_sleep_answers_a_waiting_sender_aborted_and_keeps_the_message() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("unanswered", ["asleep"])).actor_id
        send = await _waiting_send(env.runtime, actor_id)
        await env.runtime.sleep_live(await env.runtime.acquire(actor_id))
        with pytest.raises(ActorAbortedError):
            await send
        assert len(await env.runtime.storage.load_queue(actor_id)) == 1


async def test_a_take_committed_after_the_sleep_began_answers_completed_not_aborted() -> None:
    """Told "aborted" (which says the message stays queued), the sender would send again a
    message the receive already took for good."""
    async with TestEnvironment(registry, clock=MockClock()) as env:
        RUNTIME[:] = [env.runtime]
        actor_id = (await env.runtime.get_or_create("take_then_sleep", ["taken"])).actor_id
        send = await _waiting_send(env.runtime, actor_id)
        assert await env.runtime.call(actor_id, "take_and_sleep", []) == 1
        await STOPS.pop()
        assert (await send).status == "completed"
        assert await env.runtime.storage.load_queue(actor_id) == []
