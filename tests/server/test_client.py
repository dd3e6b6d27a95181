"""The Python client (``rivet_dsl.client.Client``) against a real server, JSON and CBOR."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from rivet_dsl.client import ActorError, Client

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio


def key() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(params=["json", "cbor"])
def encoding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_handles_and_actions(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        k = key()
        with pytest.raises(ActorError) as info:
            await client.get("counter", k).action("getCount")
        assert (info.value.group, info.value.code, info.value.status) == ("actor", "not_found", 404)
        handle = client.get_or_create("counter", [k])
        assert await handle.action("increment", 2) == 2
        assert await client.get("counter", k).action("increment", 3) == 5
        actor_id = await handle.resolve()
        assert await client.get("counter", k).resolve() == actor_id
        assert await client.get_for_id("counter", actor_id).action("getCount") == 5
        created = await client.create("counter", [k, "second"], input={"x": 1})
        assert await created.action("getCount") == 0
        assert await created.resolve() != actor_id
        with pytest.raises(ActorError) as info:
            await client.create("counter", [k, "second"])
        assert info.value.code == "duplicate_key"
        # Keys with commas or slashes still address the right actor.
        odd_key = [f"{k},b", "c/d", ""]
        odd = client.get_or_create("counter", odd_key)
        assert await odd.action("increment", 1) == 1
        assert await client.get_or_create("counter", odd_key).action("getCount") == 1
        assert await client.get("counter", odd_key).action("getCount") == 1
        await created.destroy()
        with pytest.raises(ActorError) as info:
            await created.action("getCount")
        assert info.value.code == "not_found"
        # The server refuses requests nested deeper than 128 levels, but a client takes the
        # replies its server sends, deeper ones included (over HTTP and over a connection).
        deep: Any = []
        for _ in range(200):
            deep = [deep]
        assert await handle.action("nested", 200) == deep
        async with handle.connect() as conn:
            assert await conn.action("nested", 200) == deep


async def test_errors(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        handle = client.get_or_create("counter", key())
        with pytest.raises(ActorError) as info:
            await handle.action("failUser")
        error = info.value
        assert (error.group, error.code, error.message, error.metadata, error.status) == (
            "user", "forbidden_thing", "not allowed", {"why": "test"}, 400
        )
        with pytest.raises(ActorError) as info:
            await handle.action("failInternal")
        assert (info.value.group, info.value.code, info.value.message) == ("rivetkit", "internal_error", "An internal error occurred")
        with pytest.raises(ActorError) as info:
            await handle.action("increment", "nope")
        assert info.value.code == "invalid_arguments"
    async with Client("http://127.0.0.1:1") as dead:
        with pytest.raises(ActorError) as info:
            await dead.get_or_create("counter", "x").action("getCount")
        assert (info.value.group, info.value.code) == ("client", "connection_failed")


async def test_queue_send_wait_and_timeout(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        rr = client.get_or_create("requestResponseActor", [key()])
        result = await rr.send("requests", {"value": 1})
        assert result.status == "completed" and result.response is None
        result = await rr.send("requests", {"value": 21}, wait=True, timeout=5.0)
        assert result.status == "completed" and result.response == {"doubled": 42}
        result = await rr.send("parked", 3, wait=True, timeout=0.05)
        assert result.status == "timed_out" and result.response is None
        with pytest.raises(ActorError) as info:
            await rr.send("nope", 1)
        assert (info.value.group, info.value.code) == ("queue", "unknown")
        assert await rr.action("getState") == {"handled": 2}


async def test_connection_events_and_actions(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        handle = client.get_or_create("counter", key())
        seen: list[int] = []
        async with handle.connect({"user": "ada"}) as conn:
            assert conn.actor_id == await handle.resolve()
            assert conn.connection_id
            unsubscribe = conn.on("newCount", seen.append)
            assert await conn.action("increment", 1) == 1
            assert await conn.action("whoami") == {"user": "ada"}
            # A stateless call from another client also reaches this connection's subscription.
            assert await handle.action("increment", 10) == 11
            await conn.action("getCount")  # ordering barrier: the event precedes this response
            unsubscribe()
            assert await conn.action("increment", 1) == 12
            with pytest.raises(ActorError) as info:
                await conn.action("failUser")
            assert info.value.code == "forbidden_thing"
        assert seen == [1, 11]
        with pytest.raises(ActorError) as info:
            await conn.action("getCount")
        assert info.value.group == "client"
        with pytest.raises(ActorError) as info:
            async with client.get_or_create("guarded", key()).connect({"token": "no"}):
                pass
        assert (info.value.group, info.value.code) == ("user", "unauthorized")


async def test_concurrent_clients(server: ServerProcess) -> None:
    k = key()

    async def worker(encoding: Any, n: int) -> None:
        async with Client(server.url, encoding=encoding) as client:
            handle = client.get_or_create("counter", k)
            for _ in range(n):
                await handle.action("increment", 1)

    await asyncio.gather(*(worker("json" if i % 2 else "cbor", 25) for i in range(16)))
    async with Client(server.url) as client:
        assert await client.get("counter", k).action("getCount") == 400


async def test_reconnect_resubscribes_after_server_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "rivet.db").start()
    try:
        async with Client(server.url) as client:
            handle = client.get_or_create("counter", "reconnect")
            seen: list[int] = []
            got = asyncio.Event()

            def on_count(value: int) -> None:
                seen.append(value)
                got.set()

            async with handle.connect() as conn:
                conn.on("newCount", on_count)
                assert await conn.action("increment", 1) == 1
                server.kill()
                server.start()
                # The connection comes back by itself and re-subscribes; poll until it does.
                for _ in range(200):
                    try:
                        value = await conn.action("increment", 1)
                        break
                    except ActorError as exc:
                        assert exc.group == "client"
                        await asyncio.sleep(0.05)
                else:
                    raise AssertionError("connection never came back")
                assert value == 2
                await asyncio.wait_for(got.wait(), 5)
                assert seen[-1] == 2
    finally:
        server.stop()


def test_the_server_keeps_idle_connections_open_longer_than_clients_reuse_them() -> None:
    # A server closing an idle connection just as the client reuses it fails that request with
    # a read error; the client must always give up an idle connection first.
    from starlette.applications import Starlette

    from rivet_dsl.client._http import KEEPALIVE_EXPIRY_S
    from rivet_dsl.server import uvicorn_config

    config = uvicorn_config(Starlette(), host="127.0.0.1", port=0)
    assert config.timeout_keep_alive > KEEPALIVE_EXPIRY_S
    assert KEEPALIVE_EXPIRY_S < 5.0  # below uvicorn's and Node's default (RivetKit's server)
