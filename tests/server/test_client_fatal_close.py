"""A close the server sends on purpose, with an error a new socket would get again, ends a
Python client connection for good; a lost transport still reconnects.

``rivet-dsl serve`` (like rivetkit-core) closes a connection whose frame it cannot decode with
1011 ``actor.invalid_request``. The client used to take that for a lost socket and reconnect,
and when the bad frame was a subscription it sent it again on every reconnect, forever. Now the
calls in flight fail with ``actor/invalid_request``, the status becomes ``disconnected``,
``close_error``/``wait_closed()`` report the error and nothing reconnects. A 1011 close about one
message (an event over the outgoing limit) and a server restart (1012) still reconnect.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, Literal, cast

import pytest

from rivet_dsl.client import ActorConnection, ActorError, Client, ConnStatus
from rivet_dsl.client._http import HttpTransport, _HttpConnection
from rivet_dsl.server import DEFAULT_MAX_OUTGOING

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio

#: Bounds every wait (never a synchronisation): a broken client fails the test instead of hanging.
SAFETY_NET_S = 20.0


class StatusLog:
    """The statuses a connection goes through, with an event set when it first leaves
    ``connected`` (to ``connecting`` when it reconnects, ``disconnected`` when it ends)."""

    def __init__(self, conn: ActorConnection) -> None:
        self.statuses: list[ConnStatus] = []
        self.left_connected = asyncio.Event()
        self.connected_again = asyncio.Event()
        conn.on_status_change(self.record)

    def record(self, status: ConnStatus) -> None:
        self.statuses.append(status)
        if status != "connected":
            self.left_connected.set()
        elif self.left_connected.is_set():
            self.connected_again.set()


def transport_conn(conn: ActorConnection) -> _HttpConnection:
    raw = conn._conn
    assert isinstance(raw, _HttpConnection)
    return raw


async def assert_ended_for_good(client: Client, conn: ActorConnection, log: StatusLog, group: str, code: str) -> None:
    async with asyncio.timeout(SAFETY_NET_S):
        await log.left_connected.wait()
    # Straight to disconnected: the old client went back to "connecting" here.
    assert log.statuses == ["disconnected"]
    assert conn.status == "disconnected"
    async with asyncio.timeout(SAFETY_NET_S):
        error = await conn.wait_closed()
    assert error is conn.close_error
    assert error is not None and (error.group, error.code) == (group, code)
    assert error.metadata == {"closeCode": 1011}
    # The reader task, the only place a reconnect starts, is over: nothing reconnects later.
    raw = transport_conn(conn)
    assert raw._reader is not None
    async with asyncio.timeout(SAFETY_NET_S):
        await raw._reader
    assert log.statuses == ["disconnected"]
    assert raw not in cast(HttpTransport, client.transport)._connections
    # A later call fails with the same error (it is not held for a reconnect that never comes).
    with pytest.raises(ActorError) as later:
        async with asyncio.timeout(SAFETY_NET_S):
            await conn.action("getCount")
    assert (later.value.group, later.value.code) == (group, code)


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_an_undecodable_action_ends_the_connection_for_good(
    server: ServerProcess, encoding: Literal["json", "cbor"]
) -> None:
    async with Client(server.url, encoding=encoding) as client:
        handle = client.get_or_create("counter", [uuid.uuid4().hex[:12]])
        async with handle.connect() as conn:
            assert await conn.action("increment", 1) == 1
            log = StatusLog(conn)
            bad_name: Any = 123  # an ActionRequest whose name is not a string: undecodable
            with pytest.raises(ActorError) as info:
                async with asyncio.timeout(SAFETY_NET_S):
                    await conn.action(bad_name)
            assert (info.value.group, info.value.code) == ("actor", "invalid_request")
            assert info.value.metadata == {"closeCode": 1011}
            await assert_ended_for_good(client, conn, log, "actor", "invalid_request")
        assert log.statuses == ["disconnected"]
        # The actor itself is fine: a new connection works and sees the state.
        async with handle.connect() as again:
            assert await again.action("getCount") == 1


async def test_an_undecodable_subscription_is_not_sent_again_and_again(server: ServerProcess) -> None:
    """The bad frame is a subscription, which a reconnect sends again: the old client was
    closed again after every reconnect, for ever."""
    async with Client(server.url) as client:
        handle = client.get_or_create("counter", [uuid.uuid4().hex[:12]])
        async with handle.connect() as conn:
            assert await conn.action("increment", 2) == 2
            log = StatusLog(conn)
            bad_event: Any = 7  # a SubscriptionRequest whose eventName is not a string
            conn.on(bad_event, lambda *args: None)
            await assert_ended_for_good(client, conn, log, "actor", "invalid_request")


async def test_an_event_over_the_outgoing_limit_still_reconnects(server: ServerProcess) -> None:
    """1011 ``message.outgoing_too_long`` is about one event, not the connection: the client
    reconnects and subscribes again, as before."""
    async with Client(server.url) as client:
        handle = client.get_or_create("counter", [uuid.uuid4().hex[:12]])
        async with handle.connect() as conn:
            counts: list[int] = []
            got_count = asyncio.Event()

            def on_count(value: int) -> None:
                counts.append(value)
                got_count.set()

            conn.on("newCount", on_count)
            conn.on("filler", lambda *args: None)
            log = StatusLog(conn)
            # The event closes the connection before the reply goes out: the call is lost.
            with pytest.raises(ActorError) as info:
                async with asyncio.timeout(SAFETY_NET_S):
                    await conn.action("shout", DEFAULT_MAX_OUTGOING + 1)
            assert (info.value.group, info.value.code) == ("client", "connection_lost")
            assert info.value.metadata == {"closeCode": 1011, "closeReason": "message.outgoing_too_long"}
            async with asyncio.timeout(SAFETY_NET_S):
                await log.connected_again.wait()
            assert log.statuses == ["connecting", "connected"]
            assert conn.close_error is None
            # Subscribed again on the new socket: events arrive.
            assert await conn.action("increment", 5) == 5
            async with asyncio.timeout(SAFETY_NET_S):
                await got_count.wait()
            assert counts == [5]
            assert conn.status == "connected"


async def test_a_server_restart_still_reconnects(tmp_path: Path) -> None:
    """A server shutting down closes its connections with 1012 (service restart): a transport
    loss, so the client reconnects to the server that comes back."""
    db = tmp_path / "rivet.db"
    server = ServerProcess(db).start()
    try:
        async with Client(server.url) as client:
            handle = client.get_or_create("counter", [uuid.uuid4().hex[:12]])
            async with handle.connect() as conn:
                assert await conn.action("increment", 3) == 3
                log = StatusLog(conn)
                server.terminate()
                async with asyncio.timeout(SAFETY_NET_S):
                    await log.left_connected.wait()
                assert log.statuses == ["connecting"]
                server = ServerProcess(db, port=server.port).start()
                async with asyncio.timeout(SAFETY_NET_S):
                    await log.connected_again.wait()
                assert conn.close_error is None
                assert await conn.action("getCount") == 3
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("code", "reason", "final"),
    [
        (1011, "actor.invalid_request", True),
        (1011, "actor.not_found", True),
        (1011, "actor.destroyed#ray123", True),
        (4001, "user.unauthorized", True),
        (1011, "auth.forbidden", True),
        (1008, "request.unsupported_encoding", True),
        (1002, "", True),
        (1000, "closed", True),
        (1011, "message.incoming_too_long", False),
        (1011, "message.outgoing_too_long", False),
        (1011, "closed", False),
        (1011, "", False),
        (1012, "closed", False),
        (1001, "", False),
        (1006, "", False),
        (1011, "ws.eviction#ray", False),
    ],
)
def test_the_close_classification(code: int, reason: str, final: bool) -> None:
    from rivet_dsl.client._http import _close_is_final

    assert _close_is_final(code, reason) is final
