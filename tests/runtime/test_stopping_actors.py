"""What an actor that stops owes the clients still attached to it (SEMANTICS 18, 20).

- Destroyed: its connections are closed (the transport's close callback runs), and a sender
  waiting for a message's completion gets ``actor/not_found`` instead of waiting for ever
  (see ``test_destroy_waiting_sender``).
- A connection that ``on_connect`` rejects is not kept: it would keep the actor awake for ever.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rivet_dsl import ActorNotFoundError, UserError
from rivet_dsl.testing import MockClock, TestEnvironment

from .actors import registry


def _ignore(event: str, args: list[Any]) -> None:
    return None


async def test_destroy_closes_the_connections() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("room", ["closing"])).actor_id
        closed: list[str | None] = []
        await env.runtime.connect(actor_id, {"user": "ann"}, _ignore, closed.append)
        await env.runtime.destroy(actor_id)
        assert closed == ["actor destroyed"]


async def test_destroy_answers_a_sender_waiting_for_completion() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("mailbox", ["waiting"])).actor_id
        send = asyncio.ensure_future(env.runtime.send(actor_id, "requests", {"n": 1}, wait=True))
        actor = await env.runtime.acquire(actor_id)
        while not actor.queue._completions:  # the message is queued, its sender waiting
            await asyncio.sleep(0)
        await env.runtime.destroy(actor_id)
        with pytest.raises(ActorNotFoundError):
            await send


async def test_a_connection_rejected_by_on_connect_is_not_kept() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("room", ["grumpy"])).actor_id
        with pytest.raises(UserError):
            await env.runtime.connect(actor_id, {"user": "grumpy"}, _ignore)
        actor = await env.runtime.acquire(actor_id)
        assert not actor.has_conns()
        assert actor.is_idle()  # so it sleeps after sleep_timeout
