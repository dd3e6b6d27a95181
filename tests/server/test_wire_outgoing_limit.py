"""The outgoing message limit (Rivet's ``maxOutgoingMessageSize``, 1 MiB by default).

Before, a reply of any size went out: a client got a giant response or frame. Now, as in Rivet
(rivetkit-core ``registry/http.rs`` and ``registry/websocket.rs``): an HTTP response over the
limit is 400 ``message.outgoing_too_long``; on a WebSocket the action's caller gets an ``Error``
frame with that code and its ``actionId`` and the connection stays open; an event over the limit
closes the connection with 1011 ``message.outgoing_too_long``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cbor2
import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rivet_dsl.runtime import Runtime
from rivet_dsl.server import DEFAULT_MAX_OUTGOING, create_app, uvicorn_config
from rivet_dsl.server._app import ServerConfig
from rivet_dsl.storage import SqliteStorage

from ._harness import ServerProcess, free_port
from .actors import registry
from .test_websocket import Wire, protocols, ws_url

pytestmark = pytest.mark.anyio

#: Over the default limit once encoded (the string plus a few bytes of framing).
TOO_LONG = DEFAULT_MAX_OUTGOING + 1
#: Under it, framing included.
FITS = DEFAULT_MAX_OUTGOING - 1024


def action_path(name: str) -> str:
    return f"/gateway/counter/action/{name}?rvt-namespace=default&rvt-method=getOrCreate&rvt-key={uuid.uuid4().hex[:12]}"


def decode(response: httpx.Response, encoding: str) -> Any:
    return cbor2.loads(response.content) if encoding == "cbor" else response.json()


async def post_action(http: httpx.AsyncClient, name: str, args: list[Any], encoding: str) -> httpx.Response:
    if encoding == "cbor":
        headers = {"x-rivet-encoding": "cbor", "content-type": "application/octet-stream"}
        return await http.post(action_path(name), content=cbor2.dumps({"args": args}), headers=headers)
    return await http.post(action_path(name), json={"args": args})


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_http_response_over_the_limit_is_refused(server: ServerProcess, encoding: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        refused = await post_action(http, "big", [TOO_LONG], encoding)
        assert refused.status_code == 400, refused.content[:200]
        assert refused.headers["x-rivet-error"] == "message.outgoing_too_long"
        body = decode(refused, encoding)
        assert (body["group"], body["code"]) == ("message", "outgoing_too_long")
        assert body["metadata"] == {"limit": DEFAULT_MAX_OUTGOING}
        fits = await post_action(http, "big", [FITS], encoding)
        assert fits.status_code == 200 and len(decode(fits, encoding)["output"]) == FITS


@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_websocket_reply_over_the_limit_is_an_error_for_its_caller(server: ServerProcess, encoding: str) -> None:
    async with connect(ws_url(server), subprotocols=protocols(encoding), max_size=None) as ws:
        wire = Wire(ws, encoding)
        assert (await wire.recv())[0] == "Init"
        await wire.send_action(1, "big", [TOO_LONG])
        tag, val = await wire.recv()
        assert tag == "Error" and wire.action_id(val, "actionId") == 1
        assert (val["group"], val["code"]) == ("message", "outgoing_too_long")
        # The connection stays open and serves the next call.
        await wire.send_action(2, "big", [FITS])
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and wire.action_id(val) == 2 and len(val["output"]) == FITS


async def test_websocket_event_over_the_limit_closes_the_connection(server: ServerProcess) -> None:
    async with connect(ws_url(server), subprotocols=protocols("json"), max_size=None) as ws:
        wire = Wire(ws, "json")
        assert (await wire.recv())[0] == "Init"
        await wire.send("SubscriptionRequest", {"eventName": "filler", "subscribe": True})
        await wire.send_action(1, "shout", [TOO_LONG])
        with pytest.raises(ConnectionClosed):
            while True:  # nothing but the close may come: the event is never sent
                tag, _ = await wire.recv()
                assert tag != "Event"
        assert ws.close_code == 1011 and ws.close_reason == "message.outgoing_too_long"


@pytest.fixture
async def small_limit_server(tmp_path: Path) -> AsyncIterator[str]:
    """An in-process server whose outgoing limit is 1,000 bytes (``ServerConfig.max_outgoing``)."""
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "small.db"))
    app = create_app(runtime, ServerConfig(max_outgoing=1000))
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=free_port()))
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:  # (uvicorn has no readiness callback)
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await serving


async def test_the_limit_is_configurable(small_limit_server: str) -> None:
    async with httpx.AsyncClient(base_url=small_limit_server, timeout=30) as http:
        refused = await post_action(http, "big", [1000], "json")
        assert refused.status_code == 400 and refused.json()["code"] == "outgoing_too_long"
        assert refused.json()["metadata"] == {"limit": 1000}
        fits = await post_action(http, "big", [900], "json")
        assert fits.status_code == 200 and len(fits.json()["output"]) == 900


@pytest.fixture
async def tiny_limit_server(tmp_path: Path) -> AsyncIterator[str]:
    """An in-process server whose outgoing limit (10 bytes) is under ``{"output":1}`` (12 bytes)."""
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "tiny.db"))
    app = create_app(runtime, ServerConfig(max_outgoing=10))
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=free_port()))
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:  # (uvicorn has no readiness callback)
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await serving


async def test_a_refused_response_does_not_undo_the_action(tiny_limit_server: str) -> None:
    """As Rivet (rivetkit-core ``registry/http.rs`` ``handle_action_fetch``): the response is
    measured after the action ran and its state committed, so the caller gets 400
    ``message.outgoing_too_long`` and the state change stays (no rollback)."""
    async with httpx.AsyncClient(base_url=tiny_limit_server, timeout=30) as http:
        path = action_path("increment")
        refused = await http.post(path, json={"args": [3]})
        assert refused.status_code == 400 and refused.json()["code"] == "outgoing_too_long"
        actor_id = refused.headers["x-rivet-actor"]
        # The inspector's answers are not bounded (neither are Rivet's): it shows the count.
        state = await http.get(f"/gateway/{actor_id}/inspector/state")
        assert state.status_code == 200 and state.json()["state"] == {"count": 3}
        again = await http.post(f"/gateway/{actor_id}/action/increment", json={"args": [1]})
        assert again.status_code == 400 and again.json()["code"] == "outgoing_too_long"
        assert (await http.get(f"/gateway/{actor_id}/inspector/state")).json()["state"] == {"count": 4}
