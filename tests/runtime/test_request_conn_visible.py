"""A stateless call's own connection is in ``self.conns`` while the call runs, as in Rivet.

An actor with no connection hooks serves stateless calls (HTTP actions, the in-process client)
on a fast path that neither opens nor closes a connection through hooks; the call still has
``self.conn``, and that connection is listed in ``self.conns`` for as long as the call runs,
and only then. It gets no events (a request has nowhere to deliver them) and does not change
who a broadcast reaches.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgspec
import pytest

from rivet_dsl import Actor, action, event, setup
from rivet_dsl.server import create_app
from rivet_dsl.testing import MockClock, TestEnvironment

GATES: dict[str, asyncio.Event] = {}


class Seen(msgspec.Struct):
    ids: list[str] = msgspec.field(default_factory=list)


class Plain(Actor[Seen], sleep_timeout=10.0):
    """No connection hooks: its stateless calls take the fast path."""

    @event
    def ping(self, value: int) -> None: ...

    @action
    def own_conn(self) -> dict[str, Any]:
        conn = self.conn
        assert conn is not None
        return {"listed": self.conns.get(conn.id) is conn, "count": len(self.conns)}

    @action
    async def wait_and_count(self) -> int:
        GATES["entered"].set()
        await GATES["release"].wait()
        return len(self.conns)

    @action
    def broadcast_ping(self) -> int:
        self.ping(7)
        return len(self.conns)

    @action
    def count_conns(self) -> int:
        return len(self.conns)

    @action
    async def hold_conns_and_count(self) -> int:
        """Read ``self.conns`` once, then count it after a connection opened meanwhile."""
        held = self.conns
        GATES["entered"].set()
        await GATES["release"].wait()
        return len(held)


registry = setup(Plain)


@pytest.fixture(autouse=True)
def _fresh_gates() -> None:
    GATES.clear()
    GATES["entered"] = asyncio.Event()
    GATES["release"] = asyncio.Event()


async def test_an_in_process_call_sees_its_own_connection_in_conns() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor = env.client.get_or_create("plain", ["in-process"])
        assert await actor.action("own_conn") == {"listed": True, "count": 1}
        live = await env.runtime.acquire(await actor.resolve())
        assert dict(live.conns()) == {}  # gone once the call ended
        assert live.is_idle()  # and it keeps nothing awake


async def test_an_http_action_sees_its_own_connection_in_conns() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        app = create_app(env.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            response = await http.post(
                "/gateway/plain/action/own_conn?rvt-method=getOrCreate&rvt-key=over-http", json={"args": []}
            )
        assert response.status_code == 200, response.text
        assert response.json() == {"output": {"listed": True, "count": 1}}


async def test_concurrent_calls_see_each_other_only_while_they_run() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor = env.client.get_or_create("plain", ["concurrent"])
        waiting = asyncio.ensure_future(actor.action("wait_and_count"))
        await GATES["entered"].wait()
        assert await actor.action("count_conns") == 2  # its own and the waiting call's
        GATES["release"].set()
        assert await waiting == 1  # the other call has ended: only its own is left


async def test_a_broadcast_reaches_the_subscribed_connection_once_and_never_a_request() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        handle = env.client.get_or_create("plain", ["broadcast"])
        received: list[Any] = []
        got_one = asyncio.Event()

        def on_ping(*args: Any) -> None:
            received.append(args)
            got_one.set()

        async with handle.connect() as conn:
            conn.on("ping", on_ping)
            # The stateless call sees both connections; only the subscribed one hears the event.
            assert await handle.action("broadcast_ping") == 2
            async with asyncio.timeout(10.0):
                await got_one.wait()
            assert received == [(7,)]


async def test_conns_read_during_a_call_stays_a_live_view_of_the_connections() -> None:
    """With a stateless call in flight, ``self.conns`` still shows the actor's connections as
    they are (a view, as without the call), not a copy of them made when it was read."""
    async with TestEnvironment(registry, clock=MockClock()) as env:
        handle = env.client.get_or_create("plain", ["live-view"])
        async with handle.connect():
            holding = asyncio.ensure_future(handle.action("hold_conns_and_count"))
            await GATES["entered"].wait()
            async with handle.connect():  # opened after the call read self.conns
                GATES["release"].set()
                # the first connection, the second one, and the call's own
                assert await holding == 3
