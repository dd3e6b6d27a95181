"""Crash and shutdown: SIGKILL between acknowledged requests, then SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from rivet_dsl.client import ActorError, Client

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio


async def _run_batch(
    client: Client,
    start: int,
    stop: int,
    acked_actions: set[int],
    acked_sends: set[int],
    reached: tuple[int, asyncio.Event] | None = None,
) -> None:
    audit = client.get_or_create("audit", "durable")

    async def one(seq: int) -> None:
        try:
            await audit.action("record", seq)
            acked_actions.add(seq)
            if reached is not None and len(acked_actions) >= reached[0]:
                reached[1].set()
            await audit.send("items", {"seq": seq})
            acked_sends.add(seq)
        except ActorError as exc:
            assert exc.group == "client", exc  # only transport failures (the kill) are expected

    await asyncio.gather(*(one(seq) for seq in range(start, stop)))


async def test_sigkill_loses_nothing_acknowledged_and_applies_nothing_twice(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "rivet.db").start()
    acked_actions: set[int] = set()
    acked_sends: set[int] = set()
    try:
        async with Client(server.url, encoding="cbor") as client:
            await _run_batch(client, 0, 200, acked_actions, acked_sends)
            assert len(acked_actions) == 200 and len(acked_sends) == 200
            # Kill while a second batch is in flight: some requests are acknowledged, some not.
            halfway = asyncio.Event()
            batch = asyncio.ensure_future(_run_batch(client, 200, 400, acked_actions, acked_sends, (250, halfway)))
            await halfway.wait()
            server.kill()
            await batch
        server.start()
        async with Client(server.url) as client:
            audit = client.get_or_create("audit", "durable")
            # The run loop drains the queue after the restart; wait until every acked send is seen.
            for _ in range(500):
                summary = await audit.action("summary")
                if all(str(seq) in summary["seen"] for seq in acked_sends):
                    break
                await asyncio.sleep(0.02)
            recorded = {int(k): v for k, v in summary["recorded"].items()}
            seen = {int(k): v for k, v in summary["seen"].items()}
            assert acked_actions <= set(recorded), "an acknowledged action was lost"
            assert acked_sends <= set(seen), "an acknowledged queue message was lost"
            assert all(count == 1 for count in recorded.values()), "an action was applied twice"
            assert all(count == 1 for count in seen.values()), "a queue message was processed twice"
            assert 250 <= len(acked_actions) < 400 or len(acked_actions) == 400
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_graceful_shutdown_finishes_in_flight_and_saves(tmp_path: Path, sig: int) -> None:
    server = ServerProcess(tmp_path / "rivet.db").start()
    try:
        async with Client(server.url) as client:
            handle = client.get_or_create("counter", "graceful")
            assert await handle.action("increment", 5) == 5
            # An in-flight slow action (0.3 s, under its 0.5 s timeout) finishes during shutdown.
            async with handle.connect() as watcher:
                started = asyncio.Event()
                watcher.on("slowStarted", lambda _seconds: started.set())
                await watcher.action("getCount")  # the subscription is active once this returns
                slow = asyncio.ensure_future(handle.action("slow", 0.3))
                await asyncio.wait_for(started.wait(), 10)
                assert await asyncio.to_thread(server.terminate, sig) == 0
                assert await slow == "done"
        server.start()
        async with Client(server.url) as client:
            assert await client.get("counter", "graceful").action("getCount") == 5
    finally:
        server.stop()
