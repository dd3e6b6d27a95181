"""Our Python client against the real RivetKit 2.3.19 server (local engine on port 6420)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rivet_dsl.client import ActorError, Client

from ._node import RivetKitServer

# The first run installs rivetkit from npm (~2.5 min): allow more than the default timeout.
pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def rivetkit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RivetKitServer(tmp_path_factory.mktemp("rivetkit")) as endpoint:
        yield endpoint


async def test_python_client_against_rivetkit(rivetkit: str) -> None:
    # One test (not parametrized): under pytest-xdist a single worker owns port 6420.
    for encoding in ("json", "cbor"):
        await _actions_queues_and_errors(rivetkit, encoding)
        await _connection_events(rivetkit, encoding)


async def _actions_queues_and_errors(rivetkit: str, encoding: Any) -> None:
    k = uuid.uuid4().hex[:10]
    async with Client(rivetkit, encoding=encoding) as client:
        counter = client.get_or_create("counter", [k])
        assert await counter.action("increment", 5) == 5
        assert await counter.action("getCount") == 5
        assert await counter.action("echo", {"a": [1, "x", None]}) == {"a": [1, "x", None]}
        actor_id = await counter.resolve()
        assert await client.get_for_id("counter", actor_id).action("getCount") == 5
        assert await client.get("counter", [k]).action("getCount") == 5
        with pytest.raises(ActorError) as info:
            await counter.action("failUser")
        assert (info.value.group, info.value.code, info.value.message, info.value.metadata) == (
            "user", "forbidden_thing", "not allowed", {"why": "test"}
        )
        rr = client.get_or_create("requestResponseActor", [k])
        assert (await rr.send("requests", {"value": 1})).status == "completed"
        result = await rr.send("requests", {"value": 21}, wait=True, timeout=10.0)
        assert (result.status, result.response) == ("completed", {"doubled": 42})
        timed_out = await rr.send("parked", 1, wait=True, timeout=0.05)
        assert timed_out.status == "timed_out"


async def _connection_events(rivetkit: str, encoding: Any) -> None:
    k = uuid.uuid4().hex[:10]
    async with Client(rivetkit, encoding=encoding) as client:
        counter = client.get_or_create("counter", [k])
        seen: list[int] = []
        async with counter.connect({"user": "ada"}) as conn:
            both_events = asyncio.Event()

            def on_count(value: int) -> None:
                seen.append(value)
                if len(seen) >= 2:
                    both_events.set()

            conn.on("newCount", on_count)
            assert await conn.action("getCount") == 0  # barrier: subscription is registered
            assert await conn.action("increment", 1) == 1
            assert await conn.action("whoami") == {"user": "ada"}
            assert await conn.action("increment", 2) == 3
            with pytest.raises(ActorError) as info:
                await conn.action("failUser")
            assert info.value.code == "forbidden_thing"
            # RivetKit may deliver an event after the action response.
            await asyncio.wait_for(both_events.wait(), 5)
        assert seen == [1, 3]
