"""Destroying an actor runs on_disconnect for each connection it closes, before on_destroy.

Before, the destroy closed the connections and forgot them, so the transport's later
disconnect found nothing and on_disconnect never ran for them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from rivet_dsl import Actor, Conn, action, setup
from rivet_dsl.testing import TestEnvironment

HEARD: list[str] = []


class Nothing(msgspec.Struct):
    pass


class Lobby(Actor[Nothing]):
    def create_conn_state(self, params: Any) -> str:
        return "anonymous" if params is None else str(params["user"])

    def on_disconnect(self, conn: Conn) -> None:
        HEARD.append(f"disconnect:{conn.state}")

    def on_destroy(self) -> None:
        HEARD.append("destroy")

    @action
    def leave_for_good(self) -> None:
        self.destroy()


registry = setup(Lobby)


async def test_a_destroy_runs_on_disconnect_for_every_connection_first() -> None:
    HEARD.clear()
    async with TestEnvironment(registry) as env:
        lobby = env.client.get_or_create("lobby", ["l"])
        async with lobby.connect({"user": "ann"}), lobby.connect({"user": "bob"}):
            await lobby.destroy()
        assert sorted(HEARD[:2]) == ["disconnect:ann", "disconnect:bob"]
        assert HEARD[2:] == ["destroy"]  # once each: the clients' own closes found nothing left


async def test_a_self_destroy_from_a_connection_runs_its_on_disconnect_too() -> None:
    HEARD.clear()
    async with TestEnvironment(registry) as env:
        lobby = env.client.get_or_create("lobby", ["m"])
        async with lobby.connect({"user": "cat"}) as cat:
            await cat.action("leave_for_good")
        assert HEARD == ["disconnect:cat", "destroy"]
