"""The inspector routes (dev mode) and their bearer-token auth (non-dev mode)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ._harness import ServerProcess


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def make_actor(http: httpx.Client, name: str) -> str:
    body = http.put("/actors", json={"name": name, "key": uuid.uuid4().hex}).json()
    return str(body["actor"]["actor_id"])


def test_state_summary_rpcs_connections_and_action(http: httpx.Client) -> None:
    actor_id = make_actor(http, "counter")
    base = f"/gateway/{actor_id}/inspector"
    assert http.post(f"/gateway/{actor_id}/action/increment", json={"args": [4]}).json() == {"output": 4}
    assert http.get(f"{base}/state").json() == {"state": {"count": 4}, "isStateEnabled": True}
    assert http.patch(f"{base}/state", json={"state": {"count": 40}}).json() == {"ok": True}
    assert http.post(f"/gateway/{actor_id}/action/getCount", json={"args": []}).json() == {"output": 40}
    bad = http.patch(f"{base}/state", json={"state": {"count": "x"}})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_arguments"
    assert http.patch(f"{base}/state", content=b"{").status_code == 400
    assert http.get(f"{base}/state").json()["state"] == {"count": 40}
    rpcs = http.get(f"{base}/rpcs").json()["rpcs"]
    assert {"increment", "getCount", "echo"} <= set(rpcs)
    assert http.get(f"{base}/connections").json() == {"connections": []}
    assert http.post(f"{base}/action/increment", json={"args": [2]}).json() == {"output": 42}
    summary = http.get(f"{base}/summary").json()
    assert summary["state"] == {"count": 42} and summary["queueSize"] == 0
    assert summary["isWorkflowEnabled"] is False and summary["workflowHistory"] is None
    assert http.get(f"{base}/workflow-history").json() == {"history": None, "isWorkflowEnabled": False}
    assert http.get("/gateway/missing/inspector/state").status_code == 404


def test_stateless_actor(http: httpx.Client) -> None:
    actor_id = make_actor(http, "guarded")
    assert http.get(f"/gateway/{actor_id}/inspector/state").json() == {"state": None, "isStateEnabled": False}


def test_queue_list_inject_clear(http: httpx.Client) -> None:
    actor_id = make_actor(http, "requestResponseActor")
    base = f"/gateway/{actor_id}/inspector"
    for value in range(3):
        r = http.post(f"{base}/queue", json={"name": "parked", "body": value})
        assert r.json() == {"ok": True}, r.text
    listed = http.get(f"{base}/queue", params={"limit": 2}).json()
    assert listed["size"] == 3 and listed["truncated"] is True and listed["maxSize"] == 1000
    assert [m["name"] for m in listed["messages"]] == ["parked", "parked"]
    assert isinstance(listed["messages"][0]["createdAtMs"], int)
    bad = http.post(f"{base}/queue", json={"name": "nope", "body": 1})
    assert bad.status_code == 400 and bad.json()["code"] == "unknown"
    assert http.delete(f"{base}/queue").json() == {"ok": True, "cleared": 3}
    assert http.get(f"{base}/queue").json()["size"] == 0


def test_token_auth_outside_dev_mode(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "rivet.db", extra=["--no-dev", "--inspector-token", "s3cret"]).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            actor_id = make_actor(http, "counter")
            url = f"/gateway/{actor_id}/inspector/state"
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
                r = http.get(url, headers=headers)
                assert r.status_code == 403 and r.json()["code"] == "forbidden"
                assert r.headers["x-rivet-error"] == "auth.forbidden"
            assert http.get(url, headers={"authorization": "Bearer s3cret"}).json()["state"] == {"count": 0}
    finally:
        server.stop()


def test_workflow_history_replay_recover(http: httpx.Client) -> None:
    actor_id = make_actor(http, "wfCounter")
    base = f"/gateway/{actor_id}/inspector"
    for delta in (2, 3):
        r = http.post(f"/gateway/{actor_id}/queue/counter", json={"body": {"delta": delta}})
        assert r.json() == {"status": "completed"}
    for _ in range(500):  # bounded poll: the workflow drains the queue in the background
        state = http.post(f"/gateway/{actor_id}/action/getState", json={"args": []}).json()["output"]
        if state["processed"] == 2:
            break
    assert state == {"value": 5, "processed": 2}
    history = http.get(f"{base}/workflow-history").json()
    assert history["isWorkflowEnabled"] is True
    entries = history["history"]["entries"]
    assert any(e["kind"] == "step" for e in entries) and any(e["kind"] == "loop" for e in entries)
    summary = http.get(f"{base}/summary").json()
    assert summary["isWorkflowEnabled"] is True and summary["workflowHistory"]["entries"]
    # The workflow waits for the next message in its loop (not failed): recover is a 409 that
    # says so (it said "in flight; wait until it is waiting", which it already was).
    recovered = http.post(f"{base}/workflow/recover")
    assert recovered.status_code == 409, recovered.text
    assert recovered.headers["x-rivet-error"] == "workflow.not_failed"
    body = recovered.json()
    assert (body["group"], body["code"], body["metadata"]) == ("workflow", "not_failed", {"state": "waiting"})
    assert body["message"] == "Workflow is waiting, not failed: only a failed workflow can be recovered"
    missing = http.post(f"{base}/workflow/replay", json={"entryId": "999999"})
    assert missing.status_code == 404 and missing.json()["code"] == "step_not_found"
    replayed = http.post(f"{base}/workflow/replay", json={})
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["isWorkflowEnabled"] is True
    # Non-workflow actors refuse workflow operations.
    plain = make_actor(http, "counter")
    refused = http.post(f"/gateway/{plain}/inspector/workflow/recover")
    assert refused.status_code == 400 and refused.json()["code"] == "workflow_disabled"
