"""The ``/connect`` WebSocket protocol over a real server, raw frames in JSON and CBOR."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid
from typing import Any

import cbor2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio


def ws_url(server: ServerProcess, actor: str = "counter", k: str | None = None, method: str = "getOrCreate") -> str:
    k = k or uuid.uuid4().hex[:12]
    return f"ws://127.0.0.1:{server.port}/gateway/{actor}/connect?rvt-namespace=default&rvt-method={method}&rvt-key={k}"


def protocols(encoding: str, params: Any = None) -> list[Subprotocol]:
    out = ["rivet", f"rivet_encoding.{encoding}"]
    if params is not None:
        out.append("rivet_conn_params." + urllib.parse.quote(json.dumps(params), safe=""))
    return [Subprotocol(p) for p in out]


class Wire:
    def __init__(self, ws: ClientConnection, encoding: str) -> None:
        self.ws = ws
        self.encoding = encoding

    async def send(self, tag: str, val: dict[str, Any]) -> None:
        frame = {"body": {"tag": tag, "val": val}}
        if self.encoding == "json":
            await self.ws.send(json.dumps(frame))
        else:
            await self.ws.send(cbor2.dumps(frame))

    async def send_action(self, action_id: int, name: str, args: list[Any]) -> None:
        ident: Any = ["$BigInt", str(action_id)] if self.encoding == "json" else action_id
        await self.send("ActionRequest", {"id": ident, "name": name, "args": args})

    async def recv(self) -> tuple[str, dict[str, Any]]:
        raw = await asyncio.wait_for(self.ws.recv(), 10)
        if self.encoding == "json":
            assert isinstance(raw, str)
            frame = json.loads(raw)
        else:
            assert isinstance(raw, bytes)
            frame = cbor2.loads(raw)
        return frame["body"]["tag"], frame["body"]["val"]

    def action_id(self, val: dict[str, Any], field: str = "id") -> Any:
        value = val[field]
        if self.encoding == "json" and value is not None:
            assert value[0] == "$BigInt"
            return int(value[1])
        return value


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_init_actions_and_events(server: ServerProcess, encoding: str) -> None:
    async with connect(ws_url(server), subprotocols=protocols(encoding)) as ws:
        assert ws.subprotocol == "rivet"
        wire = Wire(ws, encoding)
        tag, val = await wire.recv()
        assert tag == "Init" and len(val["actorId"]) == 30 and val["connectionId"]
        # Not subscribed yet: no event.
        await wire.send_action(0, "increment", [1])
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and wire.action_id(val) == 0 and val["output"] == 1
        await wire.send("SubscriptionRequest", {"eventName": "newCount", "subscribe": True})
        await wire.send_action(1, "increment", [2])
        assert await wire.recv() == ("Event", {"name": "newCount", "args": [3]})
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and wire.action_id(val) == 1 and val["output"] == 3
        await wire.send("SubscriptionRequest", {"eventName": "newCount", "subscribe": False})
        await wire.send_action(2, "increment", [1])
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and val["output"] == 4


async def test_cbor_ids_are_u64_like_rivetkit(server: ServerProcess) -> None:
    async with connect(ws_url(server), subprotocols=protocols("cbor")) as ws:
        await ws.recv()
        # The exact ActionRequest RivetKit's client sent (id as an 8-byte unsigned integer).
        await ws.send(bytes.fromhex("b9000164626f6479b90002637461676d416374696f6e526571756573746376616cb900036269641b0000000000000000646e616d6569696e6372656d656e7464617267738101"))
        raw = await asyncio.wait_for(ws.recv(), 10)
        assert raw == bytes.fromhex("a164626f6479a2637461676e416374696f6e526573706f6e73656376616ca26269641b0000000000000000666f757470757401")


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_action_errors_carry_action_id(server: ServerProcess, encoding: str) -> None:
    async with connect(ws_url(server), subprotocols=protocols(encoding)) as ws:
        wire = Wire(ws, encoding)
        await wire.recv()
        await wire.send_action(7, "failUser", [])
        tag, val = await wire.recv()
        assert tag == "Error" and wire.action_id(val, "actionId") == 7
        assert (val["group"], val["code"], val["message"], val["metadata"]) == ("user", "forbidden_thing", "not allowed", {"why": "test"})
        await wire.send_action(8, "failInternal", [])
        tag, val = await wire.recv()
        assert (val["group"], val["code"], val["message"]) == ("rivetkit", "internal_error", "An internal error occurred")
        await wire.send_action(9, "missing", [])
        tag, val = await wire.recv()
        assert (val["code"], wire.action_id(val, "actionId")) == ("action_not_found", 9)
        await wire.send_action(10, "increment", ["x"])
        tag, val = await wire.recv()
        assert (val["code"], wire.action_id(val, "actionId")) == ("invalid_arguments", 10)


# A broken frame closes the connection (1011 actor.invalid_request, as in Rivet):
# tests/server/test_ws_invalid_frame.py; an oversized one too (1011 message.incoming_too_long):
# tests/server/test_ws_incoming_limit.py.


async def test_conn_params_via_subprotocol_and_header(server: ServerProcess) -> None:
    async with connect(ws_url(server), subprotocols=protocols("json", {"user": "ada", "n": [1]})) as ws:
        wire = Wire(ws, "json")
        await wire.recv()
        await wire.send_action(0, "whoami", [])
        assert (await wire.recv())[1]["output"] == {"user": "ada", "n": [1]}
    async with connect(
        ws_url(server), subprotocols=protocols("json"), additional_headers={"x-rivet-conn-params": json.dumps({"user": "bob"})}
    ) as ws:
        wire = Wire(ws, "json")
        await wire.recv()
        await wire.send_action(0, "whoami", [])
        assert (await wire.recv())[1]["output"] == {"user": "bob"}


async def test_rejected_and_failed_connections(server: ServerProcess) -> None:
    # on_before_connect rejects: an Error frame without actionId, then a close.
    async with connect(ws_url(server, "guarded"), subprotocols=protocols("json", {"token": "bad"})) as ws:
        wire = Wire(ws, "json")
        tag, val = await wire.recv()
        assert tag == "Error" and (val["group"], val["code"], val["actionId"]) == ("user", "unauthorized", None)
        await ws.wait_closed()
        assert ws.close_code == 1008
    async with connect(ws_url(server, "guarded"), subprotocols=protocols("json", {"token": "ok"})) as ws:
        wire = Wire(ws, "json")
        assert (await wire.recv())[0] == "Init"
        await wire.send_action(0, "ping", [])
        assert (await wire.recv())[1]["output"] == "pong"
    for url, code in [
        (ws_url(server, "counter", method="get"), "not_found"),
        (ws_url(server, "nosuchactor"), "not_found"),
        (ws_url(server) + "&rvt-bogus=1", "invalid_query"),
    ]:
        async with connect(url, subprotocols=protocols("json")) as ws:
            tag, val = await Wire(ws, "json").recv()
            assert tag == "Error" and val["code"] == code
    async with connect(ws_url(server), subprotocols=[Subprotocol("rivet"), Subprotocol("rivet_encoding.bare")]) as ws:
        tag, val = await Wire(ws, "json").recv()
        assert (tag, val["code"]) == ("Error", "unsupported_encoding")
    async with connect(ws_url(server), subprotocols=protocols("json") + [Subprotocol("rivet_conn_params.%7Bbad")]) as ws:
        tag, val = await Wire(ws, "json").recv()
        assert (tag, val["code"]) == ("Error", "malformed")


async def test_concurrent_actions_on_one_socket(server: ServerProcess) -> None:
    async with connect(ws_url(server), subprotocols=protocols("cbor")) as ws:
        wire = Wire(ws, "cbor")
        await wire.recv()
        for i in range(50):
            await wire.send_action(i, "increment", [1])
        outputs = {}
        for _ in range(50):
            tag, val = await wire.recv()
            assert tag == "ActionResponse"
            outputs[val["id"]] = val["output"]
        assert sorted(outputs) == list(range(50))
        assert sorted(outputs.values()) == list(range(1, 51))
