"""WebSocket connection params: Rivet's 4 KiB limit, and handshakes too large to parse.

Params over 4 KiB (the JSON text, in bytes) are refused with an ``Error`` frame
``actor/conn_params_too_long`` and a 1008 close. A ``Sec-WebSocket-Protocol`` header line over
8 KiB cannot be parsed at all (websockets' limit): the server answers 431 at once instead of
leaving the client waiting for its open timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio


def ws_url(server: ServerProcess, actor: str = "counter") -> str:
    return f"ws://127.0.0.1:{server.port}/gateway/{actor}/connect?rvt-method=getOrCreate&rvt-key={uuid.uuid4().hex}"


def with_params(params: Any) -> list[Subprotocol]:
    raw = urllib.parse.quote(json.dumps(params), safe="")
    return [Subprotocol("rivet"), Subprotocol("rivet_encoding.json"), Subprotocol("rivet_conn_params." + raw)]


async def first_frame(url: str, protocols: list[Subprotocol]) -> tuple[str, dict[str, Any], int | None]:
    async with connect(url, subprotocols=protocols, open_timeout=10) as ws:
        raw = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(raw, str)
        body = json.loads(raw)["body"]
        if body["tag"] == "Init":
            return body["tag"], body["val"], None
        await asyncio.wait_for(ws.wait_closed(), 10)
        return body["tag"], body["val"], ws.close_code


async def test_ws_params_over_4_kib_are_refused(server: ServerProcess) -> None:
    filler = 4096 - len(json.dumps({"user": ""}))
    tag, _, _ = await first_frame(ws_url(server), with_params({"user": "x" * filler}))
    assert tag == "Init"
    tag, val, close_code = await first_frame(ws_url(server), with_params({"user": "x" * (filler + 1)}))
    assert tag == "Error" and close_code == 1008
    assert (val["group"], val["code"], val["metadata"], val["actionId"]) == (
        "actor",
        "conn_params_too_long",
        {"limit": 4096},
        None,
    )
    # The same limit for params in the x-rivet-conn-params header of an upgrade.
    headers = {"x-rivet-conn-params": json.dumps({"user": "x" * (filler + 1)})}
    async with connect(ws_url(server), subprotocols=with_params(None)[:2], additional_headers=headers) as ws:
        body = json.loads(await asyncio.wait_for(ws.recv(), 10))["body"]
        assert (body["tag"], body["val"]["code"]) == ("Error", "conn_params_too_long")


async def test_ws_handshake_too_large_to_parse_is_answered_at_once(server: ServerProcess) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server), subprotocols=with_params({"user": "x" * 9000}), open_timeout=10):
            pass
    assert refused.value.response.status_code == 431
    assert time.monotonic() - started < 5  # an answer, not the client's open timeout
    # The server still serves connections afterwards.
    tag, _, _ = await first_frame(ws_url(server), with_params({"user": "ok"}))
    assert tag == "Init"
