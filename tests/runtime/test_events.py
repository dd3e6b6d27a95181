"""Connections and events: params, rejection, per-connection state, subscriptions, targeted sends."""

from __future__ import annotations

import pytest

from rivet_dsl.client import ActorError
from rivet_dsl.testing import TestEnvironment

from .actors import registry


async def test_broadcast_reaches_only_subscribed_connections() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r1"])
        ann_events: list[str] = []
        bob_events: list[str] = []
        async with room.connect({"user": "ann"}) as ann, room.connect({"user": "bob"}) as bob:
            unsubscribe = ann.on("said", ann_events.append)
            bob.on("notice", lambda notice: bob_events.append(notice["text"]))
            assert await ann.action("say", "hi") == "ann"
            assert await room.action("say", "over http") == "http"
            unsubscribe()
            await bob.action("say", "after unsubscribe")
            assert await ann.action("poke_others") == 1
        assert ann_events == ["ann: hi", "http: over http"]
        assert bob_events == ["poke"]
        # `async with a, b` closes b first.
        assert await room.action("get_log") == ["connect:ann", "connect:bob", "disconnect:bob", "disconnect:ann"]


async def test_on_before_connect_rejects_with_the_users_error() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r2"])
        with pytest.raises(ActorError) as info:
            async with room.connect({"user": "eve", "token": "bad"}):
                pass
        assert (info.value.code, info.value.message) == ("forbidden", "go away")
        assert await room.action("get_log") == []


async def test_invalid_params_are_rejected_without_a_connection() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r3"])
        with pytest.raises(ActorError) as info:
            async with room.connect({"nope": 1}):
                pass
        assert info.value.code == "internal_error"
        actor = await env.runtime.acquire(await room.resolve())
        assert not actor.has_conns()


async def test_once_fires_a_single_time() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r4"])
        seen: list[str] = []
        async with room.connect({"user": "cat"}) as conn:
            conn.once("said", seen.append)
            await conn.action("say", "one")
            await conn.action("say", "two")
        assert seen == ["cat: one"]
