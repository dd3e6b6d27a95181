"""Inspector request bodies are limited and checked before anything happens to an actor.

The inspector's routes that take a body (``PATCH state``: 4 MiB, ``POST action/{name}``,
``POST queue``, ``POST workflow/replay``: the incoming limit, 64 KiB) refuse a body over their
limit with 400 ``message.incoming_too_long`` and a malformed one with 400 ``message.malformed``,
as the gateway's action and queue routes do. Before, the body was read after the actor was
resolved: addressed by name with ``rvt-method=getOrCreate``, a refused request still created the
actor (and woke a sleeping one). Now the body is read, decoded and checked first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rivet_dsl.server import DEFAULT_MAX_BODY
from rivet_dsl.server._app import MANAGER_MAX_BODY

from ._harness import ServerProcess
from .test_http import assert_error, by_key, key


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def actors_named(http: httpx.Client, name: str, k: str) -> list[Any]:
    listed = http.get("/actors", params={"name": name, "key": k})
    assert listed.status_code == 200, listed.text
    actors = listed.json()["actors"]
    assert isinstance(actors, list)
    return actors


def over(limit: int) -> bytes:
    """A JSON body of ``limit + 1`` bytes (valid JSON, so only its size is wrong)."""
    prefix, suffix = b'{"args": ["', b'"]}'
    return prefix + b"x" * (limit + 1 - len(prefix) - len(suffix)) + suffix


def chunked(data: bytes) -> Iterator[bytes]:
    """The body without a content-length: the limit must hold while it streams in."""
    for start in range(0, len(data), 16 * 1024):
        yield data[start : start + 16 * 1024]


# (actor name, method, inspector path, limit)
ROUTES = [
    ("counter", "POST", "inspector/action/increment", DEFAULT_MAX_BODY),
    ("requestResponseActor", "POST", "inspector/queue", DEFAULT_MAX_BODY),
    ("wfCounter", "POST", "inspector/workflow/replay", DEFAULT_MAX_BODY),
    ("counter", "PATCH", "inspector/state", MANAGER_MAX_BODY),
]


@pytest.mark.parametrize(("name", "method", "path", "limit"), ROUTES)
def test_an_oversized_inspector_body_is_refused_and_creates_no_actor(
    http: httpx.Client, name: str, method: str, path: str, limit: int
) -> None:
    k = key()
    url = by_key(name, k).format(path)
    body = assert_error(http.request(method, url, content=over(limit)), 400, "message", "incoming_too_long")
    assert body["metadata"] == {"limit": limit}
    body = assert_error(http.request(method, url, content=chunked(over(limit))), 400, "message", "incoming_too_long")
    assert body["metadata"] == {"limit": limit}
    assert actors_named(http, name, k) == []


@pytest.mark.parametrize(("name", "method", "path", "limit"), ROUTES)
def test_a_malformed_inspector_body_is_refused_and_creates_no_actor(
    http: httpx.Client, name: str, method: str, path: str, limit: int
) -> None:
    k = key()
    url = by_key(name, k).format(path)
    assert_error(http.request(method, url, content=b"{not json"), 400, "message", "malformed")
    assert_error(http.request(method, url, content=b"[1, 2]"), 400, "message", "malformed")
    assert actors_named(http, name, k) == []


def test_an_oversized_patch_changes_no_state(http: httpx.Client) -> None:
    k = key()
    actor_id = http.put("/actors", json={"name": "counter", "key": k}).json()["actor"]["actor_id"]
    base = f"/gateway/{actor_id}/inspector"
    assert http.patch(f"{base}/state", json={"state": {"count": 7}}).json() == {"ok": True}
    prefix, suffix = b'{"state": {"count": 9, "pad": "', b'"}}'
    pad = MANAGER_MAX_BODY + 1 - len(prefix) - len(suffix)
    refused = http.patch(f"{base}/state", content=prefix + b"x" * pad + suffix)
    assert_error(refused, 400, "message", "incoming_too_long")
    assert http.get(f"{base}/state").json()["state"] == {"count": 7}
    # An absent body on workflow/replay still means "replay everything", not a malformed body:
    # this actor has no workflow, and that is the answer.
    assert_error(http.post(f"{base}/workflow/replay"), 400, "inspector", "workflow_disabled")
