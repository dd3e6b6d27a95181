"""Connection params on client handles, over HTTP against a real server process.

As in RivetKit (``client.x.getOrCreate(key, { params })``), a handle made with ``params``
sends them with every stateless action and queue send (the ``x-rivet-conn-params`` header,
the JSON text of the params), so the server's ``on_before_connect`` may refuse the request and
``create_conn_state`` attributes it; ``handle.connect()`` without params uses them too. The
same for the generated typed client (``generated/chat_room.py``).

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

from examples.chat_room import ChatRoom
from rivet_dsl import Actor, Conn, UserError, action, queue, setup
from rivet_dsl.client import ActorError, Client
from rivet_dsl.client._http import HttpTransport

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio


class GateState(msgspec.Struct):
    log: list[str] = msgspec.field(default_factory=list)


class Gate(Actor[GateState], name="gate"):
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

    @action
    def who(self) -> dict[str, Any]:
        conn = self.conn
        assert conn is not None
        return {"user": conn.state, "params": conn.params}

    @action
    def history(self) -> list[str]:
        return self.state.log


registry = setup(ChatRoom, Gate)

OK = {"token": "ok", "user": "ann"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db: Path = tmp_path_factory.mktemp("client_params") / "rivet.db"
    process = ServerProcess(db, registry="tests.server.test_client_params:registry").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(params=["json", "cbor"])
def encoding(request: pytest.FixtureRequest) -> Any:
    return request.param


def key() -> str:
    return uuid.uuid4().hex[:12]


async def test_chat_room_handle_params_refuse_and_attribute(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        k = key()
        banned = client.get_or_create("chat_room", [k], params={"user_id": "eve", "token": "banned"})
        with pytest.raises(ActorError) as info:
            await banned.action("send_message", "hi")
        assert (info.value.group, info.value.code, info.value.status) == ("user", "forbidden", 400)
        ann = client.get_or_create("chat_room", [k], params={"user_id": "ann"})
        assert ann.params == {"user_id": "ann"}
        assert await ann.action("send_message", "hello") == {"user": "ann", "text": "hello"}
        assert (await ann.action("who_am_i"))["user_id"] == "ann"
        # Without params the calls stay anonymous, as before.
        anonymous = client.get_or_create("chat_room", [k])
        assert await anonymous.action("send_message", "psst") == {"user": "anonymous", "text": "psst"}
        assert [m["user"] for m in await anonymous.action("get_history")] == ["ann", "anonymous"]
        # connect() without params connects with the handle's; explicit params win.
        async with ann.connect() as conn:
            assert (await conn.action("who_am_i"))["user_id"] == "ann"
        async with banned.connect({"user_id": "bob"}) as conn:
            assert (await conn.action("who_am_i"))["user_id"] == "bob"
        with pytest.raises(ActorError) as info:
            async with banned.connect():
                pass
        assert (info.value.group, info.value.code) == ("user", "forbidden")


async def test_every_accessor_carries_params(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        k = key()
        created = await client.create("gate", [k], params=OK)
        assert await created.action("who") == {"user": "ann", "params": OK}
        actor_id = await created.resolve()
        bob = {"token": "ok", "user": "bob"}
        assert (await client.get("gate", [k], params=bob).action("who"))["user"] == "bob"
        assert (await client.get_or_create("gate", [k], params=bob).action("who"))["user"] == "bob"
        assert (await client.get_for_id("gate", actor_id, params=bob).action("who"))["user"] == "bob"
        for handle in (client.get("gate", [k]), client.get_for_id("gate", actor_id)):
            with pytest.raises(ActorError) as info:
                await handle.action("who")
            assert (info.value.group, info.value.code) == ("user", "unauthorized")
        # Non-ASCII params arrive intact, with a key rvt-key cannot carry too.
        zoe = {"token": "ok", "user": "zoë ✓"}
        odd = client.get_or_create("gate", [f"{k},x", ""], params=zoe)
        assert await odd.action("who") == {"user": "zoë ✓", "params": zoe}


async def test_queue_send_carries_params(server: ServerProcess, encoding: Any) -> None:
    async with Client(server.url, encoding=encoding) as client:
        k = key()
        with pytest.raises(ActorError) as info:
            await client.get_or_create("gate", [k]).send("jobs", 1)
        assert (info.value.group, info.value.code) == ("user", "unauthorized")
        with pytest.raises(ActorError) as info:
            await client.get_or_create("gate", [k], params={"token": "no", "user": "eve"}).send("jobs", 1)
        assert (info.value.group, info.value.code) == ("user", "unauthorized")
        cat = client.get_or_create("gate", [k], params={"token": "ok", "user": "cat"})
        result = await cat.send("jobs", 2)
        assert result.status == "completed"
        # The refused sends opened nothing; cat's send and the history call ran on cat's connections.
        assert await cat.action("history") == ["connect:cat", "connect:cat"]


async def test_the_header_is_the_json_text_of_the_params() -> None:
    seen: list[httpx.Headers] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        if "/queue/" in request.url.path:
            return httpx.Response(200, json={"status": "completed"})
        return httpx.Response(200, json={"output": None})

    transport = HttpTransport("http://rivet.test")
    transport._http = httpx.AsyncClient(base_url="http://rivet.test", transport=httpx.MockTransport(reply))
    async with Client(transport) as client:
        params = {"user_id": "zoë 𝄞", "n": [1, None, True, 'q"\\']}
        handle = client.get_for_id("chat_room", "actor-1", params=params)
        await handle.action("who_am_i")
        await handle.send("jobs", 1)
        await client.get_for_id("chat_room", "actor-1").action("who_am_i")
    # Compact JSON; beyond ASCII as \u escapes (RivetKit's server drops non-ASCII header values).
    expected = json.dumps(params, separators=(",", ":")).encode()
    assert b"zo\\u00eb" in expected
    for headers in seen[:2]:
        assert [value for name, value in headers.raw if name.lower() == b"x-rivet-conn-params"] == [expected]
    assert "x-rivet-conn-params" not in seen[2]


async def test_generated_chat_room_client_sends_params(server: ServerProcess) -> None:
    from generated.chat_room import Client as ChatClient
    from generated.chat_room import Message

    async with ChatClient(server.url) as client:
        k = key()
        banned = client.chat_room.get_or_create([k], params={"user_id": "eve", "token": "banned"})
        with pytest.raises(ActorError) as info:
            await banned.send_message("hi")
        assert (info.value.group, info.value.code) == ("user", "forbidden")
        ada = client.chat_room.get_or_create([k], params={"user_id": "ada"})
        assert await ada.send_message("hello") == Message(user="ada", text="hello")
        actor_id = await ada.resolve()
        bob = client.chat_room.get_for_id(actor_id, params={"user_id": "bob"})
        assert (await bob.who_am_i()).user_id == "bob"
        assert (await client.chat_room.get([k], params={"user_id": "cy"}).who_am_i()).user_id == "cy"
        created = await client.chat_room.create([k, "2"], params={"user_id": "dee"})
        assert (await created.who_am_i()).user_id == "dee"
        async with ada.connect() as conn:
            assert (await conn.who_am_i()).user_id == "ada"
        assert await client.chat_room.get([k]).get_history() == [Message(user="ada", text="hello")]
