"""The inspector's queue clear answers the senders waiting on the messages it deletes.

A ``wait: true`` sender of a message nothing will ever read waits for a completion; once the
inspector's ``DELETE .../queue`` has deleted that message nothing ever could complete it, and
the sender used to wait out its whole timeout. It is now answered as soon as the delete is
durable, as for a non-completable receive: ``{"status": "completed", "response": null}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ._harness import ServerProcess

#: The waiting senders' own timeout (ms): the old code answered them only after it.
SEND_TIMEOUT_MS = 30_000
#: How long the test lets a sender take to be answered after the clear, far below the above.
ANSWER_LIMIT_S = 10.0


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def test_clear_answers_waiting_senders_at_once(http: httpx.Client, server: ServerProcess) -> None:
    actor_id = str(http.put("/actors", json={"name": "requestResponseActor", "key": uuid.uuid4().hex}).json()["actor"]["actor_id"])
    base = f"/gateway/{actor_id}/inspector"

    def send_and_wait(value: int) -> httpx.Response:
        # A client of its own per thread: httpx.Client is not meant to be shared across threads.
        with httpx.Client(base_url=server.url, timeout=60) as own:
            return own.post(
                f"/gateway/{actor_id}/queue/parked", json={"body": value, "wait": True, "timeout": SEND_TIMEOUT_MS}
            )

    with ThreadPoolExecutor(max_workers=2) as pool:
        senders = [pool.submit(send_and_wait, value) for value in (1, 2)]
        # `parked` is never read: wait until both messages are queued (bounded poll of the
        # inspector, each round an HTTP request, not a sleep).
        for _ in range(2000):
            if http.get(f"{base}/queue").json()["size"] == 2:
                break
        else:
            pytest.fail("the waiting sends never got queued")
        assert not any(sender.done() for sender in senders)  # they wait for a completion
        assert http.delete(f"{base}/queue").json() == {"ok": True, "cleared": 2}
        for sender in senders:
            response = sender.result(timeout=ANSWER_LIMIT_S)  # old code: TimeoutError here
            assert response.status_code == 200, response.text
            assert response.json() == {"status": "completed", "response": None}
    assert http.get(f"{base}/queue").json()["size"] == 0
    # The actor goes on as usual: a fresh send is queued and times out unread.
    fresh = http.post(f"/gateway/{actor_id}/queue/parked", json={"body": 3, "wait": True, "timeout": 1})
    assert fresh.json() == {"status": "timedOut"}
    assert http.get(f"{base}/queue").json()["size"] == 1
