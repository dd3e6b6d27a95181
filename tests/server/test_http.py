"""The HTTP surface over a real server process: every route and every error path."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import cbor2
import httpx
import pytest

from ._harness import ServerProcess

CBOR = {"x-rivet-encoding": "cbor", "content-type": "application/octet-stream"}


def key() -> str:
    return uuid.uuid4().hex[:12]


def by_key(name: str, k: str, method: str = "getOrCreate") -> str:
    return f"/gateway/{name}/{{}}?rvt-namespace=default&rvt-method={method}&rvt-runner=default&rvt-key={k}&rvt-crash-policy=sleep"


@pytest.fixture
def http(server: ServerProcess) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def action(http: httpx.Client, k: str, name: str, args: Any, actor: str = "counter") -> httpx.Response:
    return http.post(by_key(actor, k).format(f"action/{name}"), json={"args": args})


def assert_error(response: httpx.Response, status: int, group: str, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json() if response.headers["content-type"] == "application/json" else cbor2.loads(response.content)
    assert (body["group"], body["code"]) == (group, code), body
    assert response.headers["x-rivet-error"] == f"{group}.{code}"
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_metadata_and_health(http: httpx.Client) -> None:
    meta = http.get("/metadata", params={"namespace": "default"}).json()
    assert meta["runtime"] == "engine" and meta["version"] == "2.3.19"
    assert set(meta["actorNames"]) == {"counter", "guarded", "requestResponseActor", "audit", "wfCounter", "binary", "sleeper"}
    assert http.get("/health").json()["status"] == "ok"


def test_action_json_by_key_then_by_id(http: httpx.Client) -> None:
    k = key()
    r = action(http, k, "increment", [5])
    assert r.status_code == 200 and r.json() == {"output": 5}
    assert r.headers["content-type"] == "application/json"
    actor_id = r.headers["x-rivet-actor"]
    assert r.headers["x-rivet-actor-key"] == k
    r = http.post(f"/gateway/{actor_id}/action/getCount", json={"args": []})
    assert r.json() == {"output": 5}
    # A non-array argument becomes one argument; null or absent args mean none.
    assert http.post(f"/gateway/{actor_id}/action/increment", json={"args": 2}).json() == {"output": 7}
    assert http.post(f"/gateway/{actor_id}/action/getCount", json={"args": None}).json() == {"output": 7}
    assert http.post(f"/gateway/{actor_id}/action/getCount", json={}).json() == {"output": 7}
    # {actorId}@token addressing is accepted.
    assert http.post(f"/gateway/{actor_id}@tok/action/getCount", json={"args": []}).json() == {"output": 7}


def test_action_cbor_matches_rivet_wire(http: httpx.Client) -> None:
    k = key()
    # Exactly the bytes RivetKit's client sent in rivet-wire.log: {"args": [5]} with a 2-byte map header.
    r = http.post(by_key("counter", k).format("action/increment"), content=bytes.fromhex("b9000164617267738105"), headers=CBOR)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.content == bytes.fromhex("a1666f757470757405")


def test_json_compat_values_round_trip(http: httpx.Client) -> None:
    k = key()
    # (bytes are not asserted: the runtime's to_builtins turns them into base64 strings)
    value = {"big": ["$BigInt", "12345678901234567890"], "esc": ["$$x", 1], "undef": None}
    r = action(http, k, "echo", [value])
    assert r.json() == {"output": value}
    r = http.post(
        by_key("counter", k).format("action/echo"), content=cbor2.dumps({"args": [{"n": 2**62, "t": ["$BigInt", "5"], "u": cbor2.undefined}]}), headers=CBOR
    )
    assert cbor2.loads(r.content) == {"output": {"n": 2**62, "t": 5, "u": None}}
    # Integers are 64-bit (that is what can be stored); a larger one is refused before the actor runs.
    r = http.post(by_key("counter", k).format("action/echo"), content=cbor2.dumps({"args": [{"n": 2**70}]}), headers=CBOR)
    assert r.status_code == 400
    assert cbor2.loads(r.content)["code"] == "invalid_arguments"


def test_get_missing_actor_is_404_and_creates_nothing(http: httpx.Client) -> None:
    k = key()
    assert_error(http.post(by_key("counter", k, "get").format("action/getCount"), json={"args": []}), 404, "actor", "not_found")
    assert http.get("/actors", params={"name": "counter", "key": k}).json()["actors"] == []
    assert_error(http.post("/gateway/doesnotexist/action/getCount", json={"args": []}), 404, "actor", "not_found")
    assert_error(action(http, k, "x", [], actor="nosuchactor"), 404, "actor", "not_found")


def test_errors_user_internal_unknown_action_invalid_args(http: httpx.Client) -> None:
    k = key()
    body = assert_error(action(http, k, "failUser", []), 400, "user", "forbidden_thing")
    assert body["message"] == "not allowed" and body["metadata"] == {"why": "test"}
    body = assert_error(action(http, k, "failInternal", []), 500, "rivetkit", "internal_error")
    assert body["message"] == "An internal error occurred" and "secret" not in str(body)
    assert_error(action(http, k, "nope", []), 404, "actor", "action_not_found")
    assert_error(action(http, k, "increment", ["five"]), 400, "request", "invalid_arguments")
    assert_error(action(http, k, "increment", [1, 2, 3]), 400, "request", "invalid_arguments")
    assert_error(action(http, k, "slow", [2.0]), 408, "actor", "action_timed_out")
    assert action(http, k, "getCount", []).json() == {"output": 0}


def test_malformed_bodies_have_no_effect(http: httpx.Client) -> None:
    k = key()
    url = by_key("counter", k).format("action/increment")
    assert_error(http.post(url, content=b"{not json"), 400, "message", "malformed")
    assert_error(http.post(url, content=b"[1,2]"), 400, "message", "malformed")
    assert_error(http.post(url, content=b'{"args":[["$Bogus","x"]]}'), 400, "message", "malformed")
    assert_error(http.post(url, content=b"\xff\xfe\x00garbage", headers=CBOR), 400, "message", "malformed")
    assert_error(http.post(url, content=cbor2.dumps(5), headers=CBOR), 400, "message", "malformed")
    assert_error(http.post(url, content=b"", headers=CBOR), 400, "message", "malformed")
    deep = b'{"args":[' + b"[" * 20000 + b"]" * 20000 + b"]}"
    assert_error(http.post(url, content=deep), 400, "message", "malformed")
    assert_error(http.post(url, content=b"\xa1\x64args\x81" + b"\x81" * 5000 + b"\x01", headers=CBOR), 400, "message", "malformed")
    r = http.post(url, content=b'{"args":[1]}', headers={"x-rivet-encoding": "bare"})
    assert_error(r, 400, "request", "unsupported_encoding")
    # Nothing above created the actor.
    assert http.get("/actors", params={"name": "counter", "key": k}).json()["actors"] == []


def test_body_limit(http: httpx.Client) -> None:
    k = key()
    url = by_key("counter", k).format("action/echo")
    big = "x" * (70 * 1024)
    assert_error(http.post(url, json={"args": [big]}), 400, "message", "incoming_too_long")

    def chunks() -> Any:
        for _ in range(80):
            yield b" " * 1024

    assert_error(http.post(url, content=chunks()), 400, "message", "incoming_too_long")
    assert http.get("/actors", params={"name": "counter", "key": k}).json()["actors"] == []
    assert action(http, k, "echo", ["x" * 1000]).json() == {"output": "x" * 1000}


def test_gateway_query_validation(http: httpx.Client) -> None:
    k = key()
    assert_error(http.post(f"/gateway/counter/action/getCount?rvt-method=getOrCreate&rvt-key={k}&rvt-bogus=1", json={}), 400, "request", "invalid_query")
    assert_error(http.post(f"/gateway/counter/action/getCount?rvt-method=getOrCreate&rvt-key={k}&rvt-key=b", json={}), 400, "request", "invalid_query")
    assert_error(http.post(f"/gateway/counter/action/getCount?rvt-method=destroy&rvt-key={k}", json={}), 400, "request", "invalid_query")
    assert_error(http.post(f"/gateway/counter/action/getCount?rvt-key={k}", json={}), 400, "request", "invalid_query")
    # rvt-input carries base64url CBOR input; multi-part keys are comma-joined.
    inp = base64.urlsafe_b64encode(cbor2.dumps({"hello": "world"})).decode().rstrip("=")
    r = http.post(f"/gateway/counter/action/getCount?rvt-method=getOrCreate&rvt-key={k},part2&rvt-input={inp}", json={})
    assert r.status_code == 200, r.text
    assert r.headers["x-rivet-actor-key"] == f"{k}/part2"


def test_unknown_routes_and_methods(http: httpx.Client) -> None:
    assert_error(http.get("/nope"), 404, "request", "not_found")
    assert_error(http.get(by_key("counter", key()).format("action/getCount")), 405, "request", "method_not_allowed")


def test_queue_send_no_wait_wait_and_timeout(http: httpx.Client) -> None:
    k = key()
    url = by_key("requestResponseActor", k).format("queue/requests")
    r = http.post(url, json={"body": {"value": 2}, "name": "requests", "wait": False})
    assert r.json() == {"status": "completed"}
    r = http.post(url, json={"body": {"value": 21}, "name": "requests", "wait": True, "timeout": 5000})
    assert r.json() == {"status": "completed", "response": {"doubled": 42}}
    # The exact CBOR body RivetKit sent (wait:true, timeout:5000).
    r = http.post(
        by_key("requestResponseActor", k).format("queue/requests"),
        content=bytes.fromhex("b9000464626f6479b900016576616c756515646e616d656872657175657374736477616974f56774696d656f7574191388"),
        headers=CBOR,
    )
    assert cbor2.loads(r.content) == {"status": "completed", "response": {"doubled": 42}}
    parked = by_key("requestResponseActor", k).format("queue/parked")
    assert http.post(parked, json={"body": 1, "wait": True, "timeout": 20}).json() == {"status": "timedOut"}
    assert action(http, k, "getState", [], actor="requestResponseActor").json() == {"output": {"handled": 3}}


def test_queue_errors(http: httpx.Client) -> None:
    k = key()
    base = by_key("requestResponseActor", k)
    assert_error(http.post(base.format("queue/nope"), json={"body": 1}), 400, "queue", "unknown")
    assert_error(http.post(base.format("queue/requests"), json={"body": {"value": "x"}}), 400, "request", "invalid_arguments")
    assert_error(http.post(base.format("queue/requests"), json={"body": {"value": 1}, "wait": "yes"}), 400, "message", "malformed")
    assert_error(http.post(base.format("queue/requests"), json={"body": {"value": 1}, "wait": True, "timeout": -1}), 400, "message", "malformed")
    assert_error(http.post(base.format("queue/requests"), json={"body": {"value": 1}, "name": "other"}), 400, "message", "malformed")
    assert_error(http.post(base.format("queue/requests"), json=[1]), 400, "message", "malformed")
    assert_error(http.post(base.format("queue/requests"), json={"body": "x" * 70000}), 400, "message", "incoming_too_long")
    assert action(http, k, "getState", [], actor="requestResponseActor").json() == {"output": {"handled": 0}}


def test_manager_routes(http: httpx.Client) -> None:
    k = key()
    r = http.put("/actors", json={"name": "counter", "key": k, "runner_name_selector": "default", "crash_policy": "sleep"})
    assert r.status_code == 200
    body = r.json()
    assert body["created"] is True
    actor = body["actor"]
    assert actor["name"] == "counter" and actor["key"] == k and len(actor["actor_id"]) == 30
    assert actor["create_ts"] > 1_700_000_000_000  # milliseconds
    again = http.put("/actors", json={"name": "counter", "key": k, "runner_name_selector": "default", "crash_policy": "sleep"}).json()
    assert again["created"] is False and again["actor"]["actor_id"] == actor["actor_id"]
    assert again["actor"]["create_ts"] == actor["create_ts"]
    # POST creates; a duplicate key is an error.
    k2 = key()
    created = http.post("/actors", json={"name": "counter", "key": k2, "input": base64.b64encode(cbor2.dumps({"a": 1})).decode()})
    assert created.status_code == 200, created.text
    assert_error(http.post("/actors", json={"name": "counter", "key": k2}), 400, "actor", "duplicate_key")
    # GET by name + key, and by ids.
    listed = http.get("/actors", params={"name": "counter", "key": k}).json()["actors"]
    assert [a["actor_id"] for a in listed] == [actor["actor_id"]]
    ids = f"{actor['actor_id']},{created.json()['actor']['actor_id']},missingid"
    assert len(http.get("/actors", params={"actor_ids": ids}).json()["actors"]) == 2
    assert len(http.get("/actors", params={"name": "counter"}).json()["actors"]) >= 2
    assert_error(http.get("/actors"), 400, "request", "invalid_query")
    # Bad manager bodies.
    assert_error(http.put("/actors", content=b"{"), 400, "message", "malformed")
    assert_error(http.put("/actors", json={"key": k}), 400, "request", "invalid_name")
    assert_error(http.put("/actors", json={"name": "counter", "key": 5}), 400, "request", "invalid_key")
    assert_error(http.put("/actors", json={"name": "nosuch", "key": k}), 404, "actor", "not_found")
    assert_error(http.post("/actors", json={"name": "counter", "key": key(), "input": "!!notbase64"}), 400, "request", "invalid_input")
    # DELETE destroys.
    assert action(http, k, "increment", [3]).json() == {"output": 3}
    assert http.delete(f"/actors/{actor['actor_id']}").status_code == 200
    assert_error(http.post(f"/gateway/{actor['actor_id']}/action/getCount", json={}), 404, "actor", "not_found")
    assert_error(http.delete(f"/actors/{actor['actor_id']}"), 404, "actor", "not_found")
    assert http.get(f"/gateway/{created.json()['actor']['actor_id']}/health").json() == {"status": "ok"}
