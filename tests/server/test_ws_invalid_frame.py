"""A ``/connect`` message that cannot be read closes the connection, as in RivetKit.

rivetkit-core (``registry/websocket.rs``, ``handle_actor_connect_websocket``) decodes each message
with ``decode_actor_connect_message`` (``registry/actor_connect.rs``): bytes that are not JSON or
CBOR, an envelope without ``body``/``tag``/``val``, an unknown tag, an ``ActionRequest`` without
a non-negative ``id``, a string ``name`` or an ``args`` field, a ``SubscriptionRequest`` without a
string ``eventName`` and a boolean ``subscribe`` all fail it, and the socket is closed with 1011
and the reason ``actor.invalid_request``; no ``Error`` frame is sent and nothing in the message
runs. Before, this server answered each with an ``Error`` frame (``message/malformed``) and kept
the connection open.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import cbor2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ._harness import ServerProcess
from .test_websocket import Wire, protocols, ws_url

pytestmark = pytest.mark.anyio


def encoded(encoding: str, value: Any) -> str | bytes:
    return json.dumps(value) if encoding == "json" else cbor2.dumps(value)


def action_id(encoding: str, value: int) -> Any:
    return ["$BigInt", str(value)] if encoding == "json" else value


def broken_frames(encoding: str) -> dict[str, str | bytes]:
    """Messages that are not frames of the protocol. Those naming ``increment`` would change
    the count if they ran."""

    def frame(tag: str, val: dict[str, Any]) -> str | bytes:
        return encoded(encoding, {"body": {"tag": tag, "val": val}})

    too_deep = "[" * 200 + "]" * 200
    return {
        "undecodable": "{not json" if encoding == "json" else b"\xff\x00\x13",
        "not an envelope": encoded(encoding, [1, 2]),
        "body not an object": encoded(encoding, {"body": 5}),
        "unknown tag": frame("Nope", {}),
        "negative id": frame("ActionRequest", {"id": -1, "name": "increment", "args": [5]}),
        "id not an integer": frame("ActionRequest", {"id": "x", "name": "increment", "args": [5]}),
        "name not a string": frame("ActionRequest", {"id": action_id(encoding, 1), "name": 7, "args": [5]}),
        "args missing": frame("ActionRequest", {"id": action_id(encoding, 1), "name": "increment"}),
        "subscription without eventName": frame("SubscriptionRequest", {"subscribe": True}),
        "subscribe not a boolean": frame("SubscriptionRequest", {"eventName": "newCount", "subscribe": "yes"}),
        "nested too deep": (
            '{"body":{"tag":"ActionRequest","val":{"id":1,"name":"echo","args":[' + too_deep + "]}}}"
            if encoding == "json"
            else b"\xa1\x64body\xa2\x63tag\x6dActionRequest\x63val\xa3\x62id\x01\x64name\x64echo\x64args\x81"
            + b"\x81" * 200
            + b"\x01"
        ),
    }


async def expect_invalid_request_close(wire: Wire) -> None:
    with pytest.raises(ConnectionClosed):
        tag, val = await wire.recv()
        pytest.fail(f"expected the connection to close, got {tag} {val}")
    assert (wire.ws.close_code, wire.ws.close_reason) == (1011, "actor.invalid_request")


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_a_broken_frame_closes_the_connection_with_1011_and_runs_nothing(
    server: ServerProcess, encoding: str
) -> None:
    key = uuid.uuid4().hex[:12]
    for what, frame in broken_frames(encoding).items():
        async with connect(ws_url(server, k=key), subprotocols=protocols(encoding), max_size=None) as ws:
            wire = Wire(ws, encoding)
            assert (await wire.recv())[0] == "Init", what
            await wire.send_action(0, "getCount", [])
            tag, val = await wire.recv()
            assert (tag, val["output"]) == ("ActionResponse", 0), what
            await ws.send(frame)
            try:
                await expect_invalid_request_close(wire)
            except AssertionError as exc:
                raise AssertionError(f"{what}: {exc}") from exc
    # Nothing that was sent ran: a fresh connection to the same actor still counts 0.
    async with connect(ws_url(server, k=key), subprotocols=protocols(encoding)) as ws:
        wire = Wire(ws, encoding)
        assert (await wire.recv())[0] == "Init"
        await wire.send_action(0, "getCount", [])
        tag, val = await wire.recv()
        assert (tag, val["output"]) == ("ActionResponse", 0)


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_frames_queued_before_the_broken_one_still_go_out(server: ServerProcess, encoding: str) -> None:
    """The broken frame is sent before ``Init`` is read: ``Init`` was queued first, so it arrives,
    then the close (the session closes through ``_close_after_queued``)."""
    async with connect(ws_url(server), subprotocols=protocols(encoding), max_size=None) as ws:
        wire = Wire(ws, encoding)
        await ws.send(broken_frames(encoding)["unknown tag"])
        tag, val = await wire.recv()
        assert tag == "Init" and val["connectionId"]
        await expect_invalid_request_close(wire)


async def test_a_well_formed_frame_with_lenient_args_still_runs(server: ServerProcess) -> None:
    """What Rivet accepts stays accepted: ``args`` null is no arguments, a non-array is one."""
    async with connect(ws_url(server), subprotocols=protocols("json")) as ws:
        wire = Wire(ws, "json")
        assert (await wire.recv())[0] == "Init"
        await wire.send("ActionRequest", {"id": ["$BigInt", "1"], "name": "increment", "args": None})
        tag, val = await wire.recv()
        assert (tag, val["output"]) == ("ActionResponse", 1)
        await wire.send("ActionRequest", {"id": ["$BigInt", "2"], "name": "increment", "args": 4})
        tag, val = await wire.recv()
        assert (tag, val["output"]) == ("ActionResponse", 5)
