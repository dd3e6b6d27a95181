"""Binary values on the wire: JSON ``["$Uint8Array", base64]`` (as RivetKit tags them), CBOR byte
strings, and ``bytes`` again in our clients (HTTP, WebSocket and in-process).

Before, an action's output, a Struct's bytes field and an event payload were turned into base64
text before the wire codec saw them, so every client got a ``str`` it could not tell from text.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import cbor2
import httpx
import pytest
from websockets.asyncio.client import connect

from rivet_dsl.client import Client
from rivet_dsl.testing import TestEnvironment

from ._harness import ServerProcess
from .actors import registry
from .test_websocket import Wire, protocols, ws_url

pytestmark = pytest.mark.anyio

#: Not valid UTF-8 and not a plausible string: only a real byte string carries it unchanged.
DATA = b"\x00\x01\xfe\xff raw"
TAGGED = ["$Uint8Array", base64.b64encode(DATA).decode("ascii")]


def key() -> str:
    return uuid.uuid4().hex[:12]


def gateway(actor: str) -> str:
    return f"/gateway/{actor}/action/{{name}}?rvt-namespace=default&rvt-method=getOrCreate&rvt-key={key()}"


@pytest.fixture(params=["json", "cbor"])
def encoding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_http_json_outputs_are_uint8array_tags(server: ServerProcess) -> None:
    path = gateway("binary")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        stored = await http.post(path.format(name="store"), json={"args": [TAGGED]})
        assert stored.json() == {"output": {"label": "stored", "data": TAGGED}}, stored.text
        last = await http.post(path.format(name="last"), json={"args": []})
        assert last.json() == {"output": TAGGED}
        # An untyped argument stays binary too (it is echoed back as it came).
        echoed = await http.post(gateway("counter").format(name="echo"), json={"args": [{"b": TAGGED}]})
        assert echoed.json() == {"output": {"b": TAGGED}}


async def test_http_cbor_outputs_are_byte_strings(server: ServerProcess) -> None:
    path = gateway("binary")
    headers = {"x-rivet-encoding": "cbor", "content-type": "application/octet-stream"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as http:
        stored = await http.post(path.format(name="store"), content=cbor2.dumps({"args": [DATA]}))
        assert stored.status_code == 200, stored.content
        assert cbor2.loads(stored.content) == {"output": {"label": "stored", "data": DATA}}
        echoed = await http.post(gateway("counter").format(name="echo"), content=cbor2.dumps({"args": [[DATA]]}))
        assert cbor2.loads(echoed.content) == {"output": [DATA]}


@pytest.mark.parametrize("wire_encoding", ["json", "cbor"])
async def test_websocket_frames_carry_bytes(server: ServerProcess, wire_encoding: str) -> None:
    sent: Any = TAGGED if wire_encoding == "json" else DATA
    async with connect(ws_url(server, "binary"), subprotocols=protocols(wire_encoding)) as ws:
        wire = Wire(ws, wire_encoding)
        assert (await wire.recv())[0] == "Init"
        await wire.send("SubscriptionRequest", {"eventName": "blob", "subscribe": True})
        await wire.send_action(1, "store", [sent])
        assert await wire.recv() == ("Event", {"name": "blob", "args": [sent]})
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and val["output"] == {"label": "stored", "data": sent}, val


async def test_client_round_trips_bytes(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        handle = client.get_or_create("binary", key())
        assert await handle.action("store", DATA) == {"label": "stored", "data": DATA}
        # Untyped on the server: what the client sent must have been bytes, not base64 text.
        echoed = await client.get_or_create("counter", key()).action("echo", DATA)
        assert isinstance(echoed, bytes) and echoed == DATA
        reversed_ = await handle.send("reverse", DATA, wait=True, timeout=10)
        assert (reversed_.status, reversed_.response) == ("completed", DATA[::-1])
        async with handle.connect() as conn:
            seen: list[Any] = []
            conn.on("blob", seen.append)
            assert await conn.action("store", b"again") == {"label": "stored", "data": b"again"}
            assert await conn.action("last") == b"again"  # (its event came before this reply)
        assert seen == [b"again"]


async def test_in_process_client_gets_bytes() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("binary", key())
        async with handle.connect() as conn:
            seen: list[Any] = []
            conn.on("blob", seen.append)
            assert await conn.action("store", DATA) == {"label": "stored", "data": DATA}
            assert await conn.action("last") == DATA
        assert seen == [DATA]
        echoed = await env.client.get_or_create("counter", key()).action("echo", [DATA])
        assert echoed == [DATA] and isinstance(echoed[0], bytes)
        # The stored state is unchanged by this (a Struct's bytes field was always binary).
        await env.restart()
        assert await env.client.get_or_create("binary", handle.key).action("last") == DATA

