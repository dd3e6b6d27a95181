"""Connection hooks are bounded, as in Rivet (``onBeforeConnectTimeout``,
``createConnStateTimeout``, ``onConnectTimeout``: 5 s each).

A hook that runs past the limit is cancelled and the connection refused with
``actor/conn_hook_timed_out`` (408); before, a hook that hung held the connection, its caller
and the actor awake for ever. The limit runs on the runtime's clock, so these tests move it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, action, setup
from rivet_dsl._errors import ConnHookTimedOutError
from rivet_dsl.client import ActorError
from rivet_dsl.actor._definition import ActorOptions
from rivet_dsl.testing import MockClock, TestEnvironment

HOOKS = ("on_before_connect", "create_conn_state", "on_connect")
#: Far longer than any of these tests takes: without the limit, a held hook held them for ever.
HANG_LIMIT_S = 10.0

#: ``entered:<hook>`` is set when the hook starts; ``finish:<hook>`` lets it return.
GATES: dict[str, asyncio.Event] = {}
#: What each hook that was held saw: "finished" or "cancelled".
ENDINGS: dict[str, str] = {}


class Nothing(msgspec.Struct):
    pass


async def _held(hook: str, params: Any) -> None:
    """Hold ``hook`` until its gate opens, when the connection's params name it."""
    if not isinstance(params, dict) or params.get("hold") != hook:
        return
    GATES[f"entered:{hook}"].set()
    try:
        await GATES[f"finish:{hook}"].wait()
    except asyncio.CancelledError:
        ENDINGS[hook] = "cancelled"
        raise
    ENDINGS[hook] = "finished"


class Hooked(Actor[Nothing], sleep_timeout=10.0, conn_hook_timeout=2.5):
    async def on_before_connect(self, params: Any) -> None:
        await _held("on_before_connect", params)

    async def create_conn_state(self, params: Any) -> str:
        await _held("create_conn_state", params)
        return "conn state"

    async def on_connect(self, conn: Any) -> None:
        await _held("on_connect", conn.params)

    @action
    def ping(self) -> str:
        ENDINGS["ping"] = "ran"
        return "pong"


registry = setup(Hooked)
#: The class option, not the default: a runtime that ignored it would not time out at 2.5 s.
CONN_HOOK_TIMEOUT = Hooked.__rivet_definition__.options.conn_hook_timeout


def test_the_default_limit_is_rivets_five_seconds() -> None:
    assert ActorOptions().conn_hook_timeout == 5.0
    assert CONN_HOOK_TIMEOUT == 2.5


@pytest.fixture(autouse=True)
def _fresh() -> None:
    GATES.clear()
    ENDINGS.clear()
    for hook in HOOKS:
        GATES[f"entered:{hook}"] = asyncio.Event()
        GATES[f"finish:{hook}"] = asyncio.Event()


def _ignore(event: str, args: list[Any]) -> None:
    """An event sink for connections that expect none."""


@pytest.mark.parametrize("hook", HOOKS)
async def test_a_connection_hook_past_its_limit_is_cancelled_and_the_connection_refused(hook: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("hooked", [hook])).actor_id
        connecting = asyncio.ensure_future(env.runtime.connect(actor_id, {"hold": hook}, _ignore))
        await GATES[f"entered:{hook}"].wait()
        await clock.advance(CONN_HOOK_TIMEOUT)
        with pytest.raises(ConnHookTimedOutError) as refused:
            async with asyncio.timeout(HANG_LIMIT_S):
                await connecting
        assert (refused.value.group, refused.value.code, refused.value.status) == ("actor", "conn_hook_timed_out", 408)
        assert refused.value.metadata == {"hook": hook, "timeout": CONN_HOOK_TIMEOUT}
        assert ENDINGS == {hook: "cancelled"}
        live = await env.runtime.acquire(actor_id)
        assert not live.has_conns()  # not kept: it would hold the actor awake
        assert live.is_idle()


async def test_a_hook_that_ends_within_its_limit_connects_and_is_not_cut_later() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("hooked", ["in-time"])).actor_id
        connecting = asyncio.ensure_future(env.runtime.connect(actor_id, {"hold": "on_connect"}, _ignore))
        await GATES["entered:on_connect"].wait()
        await clock.advance(CONN_HOOK_TIMEOUT - 0.1)
        GATES["finish:on_connect"].set()
        conn = await connecting
        assert conn.state == "conn state" and not conn.closed
        await clock.advance(CONN_HOOK_TIMEOUT)  # the limit's timer was disarmed with the hook
        assert not conn.closed and ENDINGS == {"on_connect": "finished"}
        assert await env.runtime.conn_call(actor_id, conn, "ping", []) == "pong"


async def test_a_stateless_call_whose_hook_times_out_fails_without_running_the_action() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("hooked", ["request"], params={"hold": "on_before_connect"})
        calling = asyncio.ensure_future(handle.action("ping"))
        await GATES["entered:on_before_connect"].wait()
        await clock.advance(CONN_HOOK_TIMEOUT)
        with pytest.raises(ActorError) as refused:
            async with asyncio.timeout(HANG_LIMIT_S):
                await calling
        assert (refused.value.group, refused.value.code) == ("actor", "conn_hook_timed_out")
        assert ENDINGS == {"on_before_connect": "cancelled"}  # and the action never ran


async def test_a_caller_cancelling_a_connect_is_a_cancellation_not_a_timeout() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("hooked", ["caller-gone"])).actor_id
        connecting = asyncio.ensure_future(env.runtime.connect(actor_id, {"hold": "on_before_connect"}, _ignore))
        await GATES["entered:on_before_connect"].wait()
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting
        assert ENDINGS == {"on_before_connect": "cancelled"}
        assert clock.now() + CONN_HOOK_TIMEOUT not in clock.pending()  # its limit was disarmed
