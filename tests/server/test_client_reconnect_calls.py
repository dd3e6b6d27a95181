"""A connection's calls across a lost socket, in the Python client.

Calls in flight when the socket drops fail (the server may or may not have run them), with the
error the close names when it names one. A call made *while* the client reconnects is held and
sent once the connection is back, as RivetKit's client queues messages while it reconnects;
before, it failed at once with ``client/connection_closed``. If the client gives up
reconnecting, the held calls fail with the reason instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from rivet_dsl.client import ActorError, Client
from rivet_dsl.client._http import _HttpConnection

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio

SAFETY_NET_S = 20.0


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_a_call_made_while_reconnecting_is_sent_once_the_connection_is_back(
    tmp_path: Path, encoding: str
) -> None:
    db = tmp_path / "rivet.db"
    server = ServerProcess(db).start()
    try:
        async with Client(server.url, encoding=encoding) as client:
            handle = client.get_or_create("counter", [uuid.uuid4().hex[:12]])
            conn = handle.connect()
            statuses: list[str] = []
            conn.on_status_change(statuses.append)
            assert conn.status == "idle"
            async with conn:
                assert conn.status == "connected"
                assert await conn.action("increment", 1) == 1
                reconnecting = asyncio.Event()
                conn.on_status_change(lambda status: reconnecting.set() if status == "connecting" else None)
                server.kill()  # the socket drops; the client starts reconnecting
                async with asyncio.timeout(SAFETY_NET_S):
                    await reconnecting.wait()
                server = ServerProcess(db, port=server.port)
                calling = asyncio.ensure_future(conn.action("increment", 2))
                await asyncio.sleep(0)
                assert not calling.done()  # held, not failed
                server.start()
                async with asyncio.timeout(SAFETY_NET_S):
                    assert await calling == 3  # sent once, on the new connection
                assert conn.status == "connected"
                assert await conn.action("getCount") == 3
            assert conn.status == "disconnected"
            assert statuses == ["connecting", "connected", "connecting", "connected", "disconnected"]
    finally:
        server.stop()


async def test_calls_held_while_reconnecting_fail_when_the_client_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_HttpConnection, "RECONNECT_ATTEMPTS", 1)
    server = ServerProcess(tmp_path / "rivet.db").start()
    try:
        async with Client(server.url) as client:
            handle = client.get_or_create("counter", [uuid.uuid4().hex[:12]])
            async with handle.connect() as conn:
                assert await conn.action("increment", 1) == 1
                reconnecting = asyncio.Event()
                conn.on_status_change(lambda status: reconnecting.set() if status == "connecting" else None)
                server.kill()
                async with asyncio.timeout(SAFETY_NET_S):
                    await reconnecting.wait()
                with pytest.raises(ActorError) as info:
                    async with asyncio.timeout(SAFETY_NET_S):
                        await conn.action("increment", 1)
                assert (info.value.group, info.value.code) == ("client", "connection_failed")
                assert conn.status == "disconnected"
    finally:
        server.stop()
