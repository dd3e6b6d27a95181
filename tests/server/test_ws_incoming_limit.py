"""A WebSocket message over the incoming limit closes the connection, as in RivetKit.

rivetkit-core (``registry/websocket.rs``, the runtime RivetKit 2.3.19 runs through its N-API
addon) checks each ``/connect`` message against ``maxIncomingMessageSize`` before decoding it
and, over the limit, closes the socket with 1011 and the reason ``message.incoming_too_long``;
it sends no ``Error`` frame. Before, this server answered with an ``Error`` frame and kept the
connection open.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import cbor2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rivet_dsl.client import ActorError, Client
from rivet_dsl.server import DEFAULT_MAX_BODY

from ._harness import ServerProcess
from .test_websocket import Wire, protocols, ws_url

pytestmark = pytest.mark.anyio

CLI_LIMIT = 2048


def echo_frame(encoding: str, size: int) -> str | bytes:
    """An ``ActionRequest`` for ``echo`` of exactly ``size`` bytes once encoded."""

    def build(pad: int) -> str | bytes:
        if encoding == "json":
            return json.dumps({"body": {"tag": "ActionRequest", "val": {"id": ["$BigInt", "1"], "name": "echo", "args": ["x" * pad]}}})
        return cbor2.dumps({"body": {"tag": "ActionRequest", "val": {"id": 1, "name": "echo", "args": ["x" * pad]}}})

    def length(frame: str | bytes) -> int:
        return len(frame.encode() if isinstance(frame, str) else frame)

    pad = size - length(build(0))
    frame = build(pad)
    # CBOR's string length header grows with the string: trim until it fits exactly.
    while length(frame) > size:
        pad -= length(frame) - size
        frame = build(pad)
    assert length(frame) == size, (length(frame), size)
    return frame


async def _assert_closed_when_over(url: str, encoding: str, limit: int) -> None:
    async with connect(url, subprotocols=protocols(encoding), max_size=None) as ws:
        wire = Wire(ws, encoding)
        assert (await wire.recv())[0] == "Init"
        await ws.send(echo_frame(encoding, limit + 1))
        with pytest.raises(ConnectionClosed):
            tag, val = await wire.recv()
            pytest.fail(f"expected the connection to close, got {tag} {val}")
        assert (ws.close_code, ws.close_reason) == (1011, "message.incoming_too_long")


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_a_message_over_the_limit_closes_with_1011(server: ServerProcess, encoding: str) -> None:
    await _assert_closed_when_over(ws_url(server), encoding, DEFAULT_MAX_BODY)


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_a_message_at_the_limit_is_handled_and_the_connection_stays(server: ServerProcess, encoding: str) -> None:
    async with connect(ws_url(server), subprotocols=protocols(encoding), max_size=None) as ws:
        wire = Wire(ws, encoding)
        assert (await wire.recv())[0] == "Init"
        await ws.send(echo_frame(encoding, DEFAULT_MAX_BODY))
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and wire.action_id(val) == 1
        await wire.send_action(2, "getCount", [])
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and val["output"] == 0


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db: Path = tmp_path_factory.mktemp("ws-limit") / "rivet.db"
    process = ServerProcess(db, extra=["--max-incoming-bytes", str(CLI_LIMIT)]).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_the_limit_set_on_the_command_line_applies_to_websocket_messages(
    limited: ServerProcess, encoding: str
) -> None:
    await _assert_closed_when_over(ws_url(limited), encoding, CLI_LIMIT)


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_the_python_client_reports_the_close_reason_and_reconnects(limited: ServerProcess, encoding: str) -> None:
    """A call whose message closed the connection fails with the error the close names
    (``message/incoming_too_long``), not a bare ``connection_lost``; the connection comes back
    for the next call, as after any other lost connection."""
    async with Client(limited.url, encoding=encoding) as client:
        handle = client.get_or_create("counter", [uuid.uuid4().hex[:12]])
        async with handle.connect() as conn:
            assert await conn.action("echo", "fits") == "fits"
            with pytest.raises(ActorError) as info:
                await conn.action("echo", "x" * (CLI_LIMIT + 1))
            assert (info.value.group, info.value.code) == ("message", "incoming_too_long")
            assert info.value.metadata == {"closeCode": 1011}
            assert await conn.action("echo", "after") == "after"
