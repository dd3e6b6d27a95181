"""Connections and events: params, rejection, per-connection state, subscriptions, targeted sends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, Conn, WorkflowContext, action, queue, setup, workflow
from rivet_dsl.client import ActorError
from rivet_dsl.testing import TestEnvironment

from .actors import registry


async def test_broadcast_reaches_only_subscribed_connections() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r1"])
        ann_events: list[str] = []
        bob_events: list[str] = []
        async with room.connect({"user": "ann"}) as ann, room.connect({"user": "bob"}) as bob:
            unsubscribe = ann.on("said", ann_events.append)
            bob.on("notice", lambda notice: bob_events.append(notice["text"]))
            assert await ann.action("say", "hi") == "ann"
            assert await room.action("say", "over http") == "http"
            unsubscribe()
            await bob.action("say", "after unsubscribe")
            assert await ann.action("poke_others") == 1
        assert ann_events == ["ann: hi", "http: over http"]
        assert bob_events == ["poke"]
        # `async with a, b` closes b first.
        assert await room.action("get_log") == ["connect:ann", "connect:bob", "disconnect:bob", "disconnect:ann"]


async def test_on_before_connect_rejects_with_the_users_error() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r2"])
        with pytest.raises(ActorError) as info:
            async with room.connect({"user": "eve", "token": "bad"}):
                pass
        assert (info.value.code, info.value.message) == ("forbidden", "go away")
        assert await room.action("get_log") == []


async def test_invalid_params_are_rejected_without_a_connection() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r3"])
        with pytest.raises(ActorError) as info:
            async with room.connect({"nope": 1}):
                pass
        assert info.value.code == "internal_error"
        actor = await env.runtime.acquire(await room.resolve())
        assert not actor.has_conns()


async def test_once_fires_a_single_time() -> None:
    async with TestEnvironment(registry) as env:
        room = env.client.get_or_create("room", ["r4"])
        seen: list[str] = []
        async with room.connect({"user": "cat"}) as conn:
            conn.once("said", seen.append)
            await conn.action("say", "one")
            await conn.action("say", "two")
        assert seen == ["cat: one"]


class HookLog(msgspec.Struct):
    log: list[str] = msgspec.field(default_factory=list)


class Audited(Actor[HookLog]):
    """Records every connection hook, to show what a stateless call runs."""

    def on_before_connect(self, params: Any) -> None:
        self.state.log.append(f"before:{params}")

    def create_conn_state(self, params: Any) -> str:
        return "anonymous" if params is None else str(params)

    def on_connect(self, conn: Conn) -> None:
        self.state.log.append(f"connect:{conn.state}")

    def on_disconnect(self, conn: Conn) -> None:
        self.state.log.append(f"disconnect:{conn.state}")

    @action
    def whoami(self) -> str:
        assert self.conn is not None
        self.state.log.append(f"call:{self.conn.state}:{len(self.conns)}")
        return str(self.conn.state)

    @action(name="log")  # (a method named log would shadow Actor.log, the actor's logger)
    def read_log(self) -> list[str]:
        return list(self.state.log)

    @queue
    def inbox(self, body: str) -> None: ...


audited = setup(Audited)


async def test_a_stateless_call_runs_on_a_connection_of_its_own() -> None:
    """As in Rivet, a client's plain action call (and queue send) opens a connection for the
    call: the hooks see no params, the action sees it as self.conn, and it closes after."""
    async with TestEnvironment(audited) as env:
        handle = env.client.get_or_create("audited", ["a"])
        assert await handle.action("whoami") == "anonymous"
        await handle.send("inbox", "hello")
        actor = await env.runtime.acquire(await handle.resolve())
        assert not actor.has_conns()
        assert await handle.action("log") == [
            "before:None", "connect:anonymous", "call:anonymous:1", "disconnect:anonymous",
            "before:None", "connect:anonymous", "disconnect:anonymous",
            "before:None", "connect:anonymous",
        ]


class Visits(msgspec.Struct):
    visits: int = 0
    stepped: bool = False


STEP_STARTED = asyncio.Event()
STEP_GATE = asyncio.Event()


class Visited(Actor[Visits]):
    """Counts every connection in on_connect while its workflow runs a long step."""

    def on_connect(self, conn: Conn) -> None:
        self.state.visits += 1

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("long", self.long)

    async def long(self) -> None:
        STEP_STARTED.set()
        await STEP_GATE.wait()
        self.state.stepped = True

    @action
    def peek(self) -> int:
        return self.state.visits


visited = setup(Visited)


async def test_a_stateless_call_whose_hooks_change_state_does_not_wait_for_a_running_step(
    tmp_path: Path,
) -> None:
    """A read stays a read: the request connection's on_connect change rides with the step's
    commit instead of holding the call until the step ends."""
    STEP_STARTED.clear()
    STEP_GATE.clear()
    db = tmp_path / "visits.db"
    async with TestEnvironment(visited, db=db) as env:
        handle = env.client.get_or_create("visited", ["v"])
        await handle.resolve()
        await STEP_STARTED.wait()
        assert await asyncio.wait_for(handle.action("peek"), 10) == 1  # (waited forever before)
        STEP_GATE.set()
        actor = await env.runtime.acquire(await handle.resolve())
        assert actor.workflow is not None
        await actor.workflow.until_blocked()
        assert actor.get_state().stepped
        assert await handle.action("peek") == 2
    async with TestEnvironment(visited, db=db) as env:
        # Both visits are durable (this call's own connection is the third).
        assert await env.client.get_or_create("visited", ["v"]).action("peek") == 3
