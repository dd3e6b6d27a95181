"""Hostile and odd input over a real server (SEMANTICS 13, 17, 19, 20): each request gets a
clear error with a stable code, changes nothing, and leaves the server and the actor working.

Every case here was a bug found by probing: a hang, a 500, a message accepted that then blocked
its queue, an actor left failing every call, or two keys reaching one actor.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import cbor2
import httpx
import pytest
from websockets.asyncio.client import connect

from ._harness import ServerProcess
from .test_http import CBOR, action, assert_error, by_key, key
from .test_websocket import Wire, protocols, ws_url


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def queue_size(http: httpx.Client, actor_id: str) -> int:
    size = http.get(f"/gateway/{actor_id}/inspector/queue").json()["size"]
    assert isinstance(size, int)
    return size


def shared_pairs(levels: int) -> bytes:
    """``{"args": [v]}`` where ``v`` is ``levels`` nested pairs of two references to the level
    below, with CBOR's value-sharing tags 28/29: a few hundred bytes that are 2**levels items
    to anything that walks the decoded value."""
    def ref(index: int) -> bytes:
        return b"\xd8\x1d" + (bytes([index]) if index < 24 else b"\x18" + bytes([index]))

    value = b"\xd8\x1c\x81\x00"  # shareable [0]
    for level in range(1, levels + 1):
        value = b"\xd8\x1c\x82" + value + ref(levels - level + 1)
    return b"\xa1\x64args\x81" + value


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_cbor_shared_values_are_refused_at_once(http: httpx.Client) -> None:
    k = key()
    url = by_key("counter", k).format("action/echo")
    small = http.post(url, content=shared_pairs(3), headers=CBOR)
    assert_error(small, 400, "message", "malformed")
    body = shared_pairs(40)  # 2**40 items expanded: the server hung (no answer) before
    assert len(body) < 300
    assert_error(http.post(url, content=body, headers=CBOR), 400, "message", "malformed")
    # A self-referencing value is refused the same way.
    assert_error(http.post(url, content=b"\xa1\x64args\x81\xd8\x1c\x81\xd8\x1d\x00", headers=CBOR), 400, "message", "malformed")
    # The same value without sharing is fine.
    plain = cbor2.dumps({"args": [[[0], [0]]]})
    assert cbor2.loads(http.post(url, content=plain, headers=CBOR).content) == {"output": [[0], [0]]}
    assert http.get("/health").json()["status"] == "ok"


def test_invalid_utf8_in_json_is_malformed_not_internal(http: httpx.Client) -> None:
    k = key()
    assert action(http, k, "increment", [1]).json() == {"output": 1}
    url = by_key("counter", k).format("action/increment")
    assert_error(http.post(url, content=b'{"args": ["\xff"]}'), 400, "message", "malformed")
    queue = by_key("requestResponseActor", k).format("queue/anything")
    assert_error(http.post(queue, content=b'{"body": "\xff"}'), 400, "message", "malformed")
    assert_error(http.put("/actors", content=b'{"name": "counter", "key": "\xff"}'), 400, "message", "malformed")
    assert action(http, k, "getCount", []).json() == {"output": 1}


def test_nesting_is_limited_where_it_can_still_go_out(http: httpx.Client) -> None:
    k = key()
    echo = by_key("counter", k).format("action/echo")
    # 128 levels inside args (args itself is one more) come back; one more is refused.
    fits = http.post(echo, content=f'{{"args":[{nested(127)}]}}'.encode())
    assert fits.status_code == 200 and fits.json()["output"] == json.loads(nested(127))
    assert_error(http.post(echo, content=f'{{"args":[{nested(128)}]}}'.encode()), 400, "message", "malformed")
    deep_cbor = b"\xa1\x64args\x81" + b"\x81" * 200 + b"\x01"
    assert_error(http.post(echo, content=deep_cbor, headers=CBOR), 400, "message", "malformed")
    # Before, 486-975 levels were accepted and then failed to encode: a 500, or a state that
    # every later read failed on.
    assert_error(http.post(echo, content=f'{{"args":[{nested(600)}]}}'.encode()), 400, "message", "malformed")


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["json", "cbor"])
async def test_websocket_output_that_cannot_be_encoded_gets_an_error_frame(server: ServerProcess, encoding: str) -> None:
    async with connect(ws_url(server), subprotocols=protocols(encoding)) as ws:
        wire = Wire(ws, encoding)
        assert (await wire.recv())[0] == "Init"
        await wire.send_action(1, "nested", [700])  # deeper than the encoder's recursion
        tag, val = await wire.recv()
        assert tag == "Error" and wire.action_id(val, "actionId") == 1 and val["code"] == "internal_error"
        await wire.send_action(2, "nested", [3])
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and wire.action_id(val) == 2 and val["output"] == [[[[]]]]


def test_wait_send_with_nan_timeout_is_refused_and_queues_nothing(http: httpx.Client) -> None:
    k = key()
    url = by_key("requestResponseActor", k).format("queue/parked")
    actor_id = http.put("/actors", json={"name": "requestResponseActor", "key": k}).json()["actor"]["actor_id"]
    body = cbor2.dumps({"body": 1, "wait": True, "timeout": math.nan})
    assert_error(http.post(url, content=body, headers=CBOR), 400, "message", "malformed")
    assert queue_size(http, actor_id) == 0


def test_queue_bodies_are_validated_exactly(http: httpx.Client) -> None:
    k = key()
    base = by_key("requestResponseActor", k)
    actor_id = http.put("/actors", json={"name": "requestResponseActor", "key": k}).json()["actor"]["actor_id"]
    # A bool is not an int (it was taken as one, and then failed its receiver for good).
    assert_error(http.post(base.format("queue/parked"), json={"body": True}), 400, "request", "invalid_arguments")
    # An integer that cannot be stored is invalid, not an internal error.
    assert_error(http.post(base.format("queue/parked"), json={"body": 2**70}), 400, "request", "invalid_arguments")
    assert queue_size(http, actor_id) == 0
    # A queue typed Any takes any value (every send to one was a 500).
    for value in (1, {"a": [1, "x"]}, None):
        assert http.post(base.format("queue/anything"), json={"body": value}).json() == {"status": "completed"}
    assert queue_size(http, actor_id) == 3


def test_a_state_that_cannot_be_stored_fails_the_call_and_not_the_actor(http: httpx.Client) -> None:
    k = key()
    big = 2**63 - 1
    assert action(http, k, "increment", [big]).status_code == 200
    assert action(http, k, "increment", [big]).status_code == 200  # 2**64 - 2: still storable
    # Beyond 64 bits: the call fails, and the actor goes back to its last saved state.
    assert_error(action(http, k, "increment", [big]), 500, "rivetkit", "internal_error")
    assert action(http, k, "getCount", []).json() == {"output": ["$BigInt", str(2 * big)]}
    assert action(http, k, "echo", [1]).json() == {"output": 1}
    assert action(http, k, "increment", [-big]).json() == {"output": ["$BigInt", str(big)]}


def test_inspector_patch_that_cannot_be_stored_is_refused(http: httpx.Client) -> None:
    k = key()
    assert action(http, k, "increment", [5]).json() == {"output": 5}
    actor_id = http.put("/actors", json={"name": "counter", "key": k}).json()["actor"]["actor_id"]
    patch = http.patch(f"/gateway/{actor_id}/inspector/state", json={"state": {"count": 2**100}})
    assert_error(patch, 400, "request", "invalid_arguments")
    assert action(http, k, "getCount", []).json() == {"output": 5}
    assert action(http, k, "increment", [1]).json() == {"output": 6}


def test_a_nul_key_part_is_not_the_empty_part(http: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    nul = http.put("/actors", json={"name": "counter", "key": [tag, "\0"]}).json()["actor"]
    empty = http.put("/actors", json={"name": "counter", "key": [tag, ""]}).json()["actor"]
    assert nul["actor_id"] != empty["actor_id"]
    listed: dict[str, Any] = {
        a["actor_id"]: a["key"]
        for a in http.get("/actors", params={"actor_ids": f"{nul['actor_id']},{empty['actor_id']}"}).json()["actors"]
    }
    assert listed[nul["actor_id"]] != listed[empty["actor_id"]]
    # Each reported key leads back to its own actor.
    for actor in (nul, empty):
        again = http.put("/actors", json={"name": "counter", "key": listed[actor["actor_id"]]}).json()["actor"]
        assert again["actor_id"] == actor["actor_id"]


def test_query_bytes_that_are_not_utf8_are_refused(http: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    base = f"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key={tag}"
    for bad in ("%ff", "%fe"):
        assert_error(http.post(base + bad, json={"args": [1]}), 400, "request", "invalid_query")
    # U+FFFD itself is a fine key: it is what both used to be replaced with, and reached one actor.
    assert http.post(base + "%ef%bf%bd", json={"args": [1]}).json() == {"output": 1}
