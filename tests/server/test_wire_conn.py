"""HTTP actions and queue sends run on a connection of their own, as in Rivet.

Rivet opens a temporary connection for every ``POST /action/{name}`` and ``POST
/queue/{name}`` with the ``x-rivet-conn-params`` header as its params, so
``on_before_connect`` and ``create_conn_state`` run (and may refuse the request), and the
action sees ``self.conn``. A queue send waiting for its completion is bounded by the actor's
``action_timeout`` (``actor/action_timed_out``, 408), not left hanging.

The server process serves this module's ``registry``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from rivet_dsl import Actor, Conn, UserError, action, queue, setup

from ._harness import ServerProcess


class HookedState(msgspec.Struct):
    log: list[str] = msgspec.field(default_factory=list)


class Hooked(Actor[HookedState], name="hooked"):
    """Admits params with token "ok"; its connection state is the params' user."""

    @queue
    def jobs(self, body: int) -> None: ...

    def on_before_connect(self, params: Any) -> None:
        if not isinstance(params, dict) or params.get("token") != "ok":
            raise UserError("bad token", code="unauthorized")

    def create_conn_state(self, params: Any) -> Any:
        return params.get("user")

    def on_connect(self, conn: Conn) -> None:
        self.state.log.append(f"connect:{conn.state}")

    def on_disconnect(self, conn: Conn) -> None:
        self.state.log.append(f"disconnect:{conn.state}")

    @action
    def who(self) -> dict[str, Any]:
        conn = self.conn
        assert conn is not None
        return {"user": conn.state, "params": conn.params, "listed": conn.id in self.conns}

    @action
    def history(self) -> list[str]:
        return self.state.log


class Plain(Actor[None], name="plain", action_timeout=0.5):
    """No connection hooks; waited sends to ``parked`` are never completed."""

    @queue
    def parked(self, body: int) -> int: ...

    @action
    def whoami(self) -> Any:
        return None if self.conn is None else self.conn.params


registry = setup(Hooked, Plain)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db: Path = tmp_path_factory.mktemp("wire_conn") / "rivet.db"
    process = ServerProcess(db, registry="tests.server.test_wire_conn:registry").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        yield client


def gateway(actor: str, key: str) -> str:
    return f"/gateway/{actor}/{{}}?rvt-method=getOrCreate&rvt-key={key}"


def params_header(params: Any) -> dict[str, str]:
    return {"x-rivet-conn-params": json.dumps(params)}


OK = {"token": "ok", "user": "ann"}


def test_http_action_runs_the_connection_hooks(http: httpx.Client) -> None:
    path = gateway("hooked", uuid.uuid4().hex)
    # Refused by on_before_connect: no params, the wrong token.
    for headers in ({}, params_header({"token": "banned", "user": "eve"})):
        r = http.post(path.format("action/who"), json={"args": []}, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "unauthorized" and r.headers["x-rivet-error"] == "user.unauthorized"
    # Admitted: the action sees its connection, its state and params; hooks ran around it.
    r = http.post(path.format("action/who"), json={"args": []}, headers=params_header(OK))
    assert r.status_code == 200, r.text
    assert r.json()["output"] == {"user": "ann", "params": OK, "listed": True}
    r = http.post(path.format("action/history"), json={"args": []}, headers=params_header({"token": "ok", "user": "bob"}))
    # The refused requests left nothing; bob's own connection is open while history runs.
    assert r.json()["output"] == ["connect:ann", "disconnect:ann", "connect:bob"]


def test_http_params_are_utf8_json_up_to_4_kib(http: httpx.Client) -> None:
    path = gateway("hooked", uuid.uuid4().hex).format("action/who")
    raw = json.dumps({"token": "ok", "user": "zoë"}, ensure_ascii=False).encode()
    r = http.post(path, json={"args": []}, headers={b"x-rivet-conn-params": raw})
    assert r.status_code == 200 and r.json()["output"]["user"] == "zoë", r.text
    r = http.post(path, json={"args": []}, headers={"x-rivet-conn-params": "{bad"})
    assert (r.status_code, r.json()["code"]) == (400, "malformed"), r.text
    # 4096 bytes are accepted, one more is refused (Rivet's 4 KiB limit), before the hooks.
    filler = 4096 - len(json.dumps({"token": "ok", "user": ""}))
    r = http.post(path, json={"args": []}, headers=params_header({"token": "ok", "user": "x" * filler}))
    assert r.status_code == 200, r.text
    r = http.post(path, json={"args": []}, headers=params_header({"token": "ok", "user": "x" * (filler + 1)}))
    assert r.status_code == 400, r.text
    body = r.json()
    assert (body["group"], body["code"], body["metadata"]) == ("actor", "conn_params_too_long", {"limit": 4096})
    assert r.headers["x-rivet-error"] == "actor.conn_params_too_long"


def test_http_queue_send_runs_the_connection_hooks(http: httpx.Client) -> None:
    key = uuid.uuid4().hex
    path = gateway("hooked", key)
    r = http.post(path.format("queue/jobs"), json={"body": 1})
    assert (r.status_code, r.json()["code"]) == (400, "unauthorized"), r.text
    r = http.post(path.format("queue/jobs"), json={"body": 2}, headers=params_header({"token": "ok", "user": "cy"}))
    assert r.json() == {"status": "completed"}, r.text
    actor_id = r.headers["x-rivet-actor"]
    queued = http.get(f"/gateway/{actor_id}/inspector/queue").json()
    assert queued["size"] == 1, queued  # only the admitted send
    r = http.post(path.format("action/history"), json={"args": []}, headers=params_header(OK))
    assert r.json()["output"] == ["connect:cy", "disconnect:cy", "connect:ann"]


def test_unknown_action_or_queue_runs_no_hooks(http: httpx.Client) -> None:
    path = gateway("hooked", uuid.uuid4().hex)
    r = http.post(path.format("action/nope"), json={"args": []}, headers=params_header(OK))
    assert (r.status_code, r.json()["code"]) == (404, "action_not_found"), r.text
    r = http.post(path.format("queue/nope"), json={"body": 1}, headers=params_header(OK))
    assert (r.status_code, r.json()["code"]) == (400, "unknown"), r.text
    r = http.post(path.format("action/history"), json={"args": []}, headers=params_header({"token": "ok", "user": "dee"}))
    assert r.json()["output"] == ["connect:dee"]


def test_http_action_without_hooks_still_has_a_connection(http: httpx.Client) -> None:
    path = gateway("plain", uuid.uuid4().hex).format("action/whoami")
    r = http.post(path, json={"args": []}, headers=params_header({"user": "ed"}))
    assert r.json() == {"output": {"user": "ed"}}, r.text


def test_waited_queue_send_is_bounded_by_the_action_timeout(http: httpx.Client) -> None:
    # Plain's action_timeout is 0.5 s. Before, a wait without a timeout never answered.
    path = gateway("plain", uuid.uuid4().hex).format("queue/parked")
    r = http.post(path, json={"body": 1, "wait": True})
    assert r.status_code == 408, r.text
    assert r.json() == {"group": "actor", "code": "action_timed_out", "message": "Action timed out", "metadata": {"timeout": 0.5}}
    # A timeout longer than the action timeout is cut the same way; a shorter one is the
    # sender's own: timedOut.
    r = http.post(path, json={"body": 2, "wait": True, "timeout": 30_000})
    assert (r.status_code, r.json()["code"]) == (408, "action_timed_out"), r.text
    r = http.post(path, json={"body": 3, "wait": True, "timeout": 50})
    assert r.json() == {"status": "timedOut"}, r.text
    # The messages stay queued, as after any timed-out wait.
    actor_id = r.headers["x-rivet-actor"]
    assert http.get(f"/gateway/{actor_id}/inspector/queue").json()["size"] == 3
