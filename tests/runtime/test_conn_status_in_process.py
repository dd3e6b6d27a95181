"""``ActorConnection.status`` over the in-process transport: a connection to an actor in the
same process never reconnects, so it goes ``idle`` -> ``connecting`` -> ``connected`` ->
``disconnected``, whichever side closes it."""

from __future__ import annotations

import pytest

from rivet_dsl import Actor, action, setup
from rivet_dsl.testing import TestEnvironment

pytestmark = pytest.mark.anyio


class Room(Actor[None]):
    @action
    def ping(self) -> str:
        return "pong"

    @action
    def kick(self) -> None:
        assert self.conn is not None
        self.conn.disconnect()


registry = setup(Room)


async def test_a_connection_closed_by_the_client() -> None:
    async with TestEnvironment(registry) as env:
        conn = env.client.get_or_create("room", ["a"]).connect()
        seen: list[str] = []
        conn.on_status_change(seen.append)
        assert conn.status == "idle"
        async with conn:
            assert conn.status == "connected"
            assert await conn.action("ping") == "pong"
        assert conn.status == "disconnected"
        assert seen == ["connecting", "connected", "disconnected"]


async def test_a_connection_closed_by_the_actor() -> None:
    async with TestEnvironment(registry) as env:
        async with env.client.get_or_create("room", ["b"]).connect() as conn:
            seen: list[str] = []
            stop = conn.on_status_change(seen.append)
            await conn.action("kick")
            await conn.wait_closed()
            assert conn.status == "disconnected"
            assert seen == ["disconnected"]
            stop()
