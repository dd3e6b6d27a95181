"""The inspector's workflow history gives its timestamps in epoch milliseconds, as RivetKit's
workflow engine records them (``Date.now()``; ``EntryMetadata`` in ``workflow-engine/src/types.ts``).

Before, they were the engine's epoch seconds (floats): a Rivet inspector read them as 1970.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ._harness import ServerProcess

HOUR_MS = 3600 * 1000


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def now_ms() -> int:
    return int(time.time() * 1000)


def make_actor(http: httpx.Client, name: str) -> str:
    body = http.put("/actors", json={"name": name, "key": uuid.uuid4().hex}).json()
    return str(body["actor"]["actor_id"])


def history_with(http: httpx.Client, actor_id: str, kind: str) -> dict[str, Any]:
    """The history once it holds an entry of ``kind`` (bounded poll: the workflow runs in the
    background)."""
    for _ in range(500):
        history: dict[str, Any] = http.get(f"/gateway/{actor_id}/inspector/workflow-history").json()["history"]
        if any(e["kind"] == kind for e in history["entries"]):
            return history
    raise AssertionError(f"no {kind} entry in the history")


def assert_between(value: Any, low: int, high: int) -> None:
    assert isinstance(value, int) and low <= value <= high, (value, low, high)


def test_entry_metadata_and_message_times_are_milliseconds(http: httpx.Client) -> None:
    before = now_ms()
    actor_id = make_actor(http, "wfCounter")
    sent = http.post(f"/gateway/{actor_id}/queue/counter", json={"body": {"delta": 1}})
    assert sent.json() == {"status": "completed"}
    history = history_with(http, actor_id, "step")
    after = now_ms() + 1
    metadata = list(history["entryMetadata"].values())
    for meta in metadata:
        assert_between(meta["createdAt"], before, after)
        for field in ("lastAttemptAt", "completedAt"):
            if meta[field] is not None:
                assert_between(meta[field], before, after)
    assert any(meta["completedAt"] is not None for meta in metadata)
    messages = [m for e in history["entries"] if e["kind"] == "message" for m in e["data"]["messages"]]
    assert messages
    for message in messages:
        assert_between(message["createdAt"], before, after)
    # The summary carries the same history.
    summary = http.get(f"/gateway/{actor_id}/inspector/summary").json()["workflowHistory"]
    assert_between(next(iter(summary["entryMetadata"].values()))["createdAt"], before, after)


def test_sleep_deadline_is_milliseconds(http: httpx.Client) -> None:
    before = now_ms()
    actor_id = make_actor(http, "sleeper")
    history = history_with(http, actor_id, "sleep")
    after = now_ms() + 1
    (sleep,) = [e for e in history["entries"] if e["kind"] == "sleep"]
    assert_between(sleep["data"]["deadline"], before + HOUR_MS, after + HOUR_MS)
