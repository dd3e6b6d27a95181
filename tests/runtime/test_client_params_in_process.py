"""Connection params on client handles over the in-process transport (``TestEnvironment``).

A handle made with ``params`` runs its stateless actions and queue sends on a connection with
those params (``Runtime.request_call``/``request_send``), as the HTTP transport does with the
``x-rivet-conn-params`` header, and ``connect()`` without params uses them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from examples.chat_room import ChatRoom
from rivet_dsl import setup
from rivet_dsl.client import ActorError
from rivet_dsl.testing import TestEnvironment
from tests.server.test_client_params import Gate

pytestmark = pytest.mark.anyio

registry = setup(ChatRoom, Gate)


class Params(msgspec.Struct):
    user_id: str
    token: str = ""


async def test_handle_params_refuse_and_attribute() -> None:
    async with TestEnvironment(registry) as env:
        client = env.client
        banned = client.get_or_create("chat_room", ["r"], params={"user_id": "eve", "token": "banned"})
        with pytest.raises(ActorError) as info:
            await banned.action("send_message", "hi")
        assert (info.value.group, info.value.code) == ("user", "forbidden")
        # Params are plain data on the wire: a Struct is sent as its dict.
        ann = client.get_or_create("chat_room", ["r"], params=Params(user_id="ann"))
        assert await ann.action("send_message", "hello") == {"user": "ann", "text": "hello"}
        anonymous = client.get("chat_room", ["r"])
        assert (await anonymous.action("who_am_i"))["user_id"] == "anonymous"
        actor_id = await ann.resolve()
        bob = client.get_for_id("chat_room", actor_id, params={"user_id": "bob"})
        assert (await bob.action("who_am_i"))["user_id"] == "bob"
        created = await client.create("chat_room", ["r", "2"], params={"user_id": "cy"})
        assert (await created.action("who_am_i"))["user_id"] == "cy"
        async with ann.connect() as conn:
            assert (await conn.action("who_am_i"))["user_id"] == "ann"
        with pytest.raises(ActorError) as info:
            async with banned.connect():
                pass
        assert info.value.code == "forbidden"


async def test_queue_send_carries_params() -> None:
    async with TestEnvironment(registry) as env:
        with pytest.raises(ActorError) as info:
            await env.client.get_or_create("gate", ["q"]).send("jobs", 1)
        assert (info.value.group, info.value.code) == ("user", "unauthorized")
        cat = env.client.get_or_create("gate", ["q"], params={"token": "ok", "user": "cat"})
        assert (await cat.send("jobs", 2)).status == "completed"
        assert await cat.action("history") == ["connect:cat", "connect:cat"]
        who: Any = await cat.action("who")
        assert who == {"user": "cat", "params": {"token": "ok", "user": "cat"}}


async def test_generated_chat_room_client_in_process() -> None:
    from generated.chat_room import Client as ChatClient
    from generated.chat_room import Message

    async with TestEnvironment(registry) as env:
        client = ChatClient(env.client)
        banned = client.chat_room.get_or_create(["g"], params={"user_id": "eve", "token": "banned"})
        with pytest.raises(ActorError) as info:
            await banned.send_message("hi")
        assert info.value.code == "forbidden"
        ada = client.chat_room.get_or_create(["g"], params={"user_id": "ada"})
        assert await ada.send_message("hello") == Message(user="ada", text="hello")
