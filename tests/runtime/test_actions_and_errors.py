"""Actions: validation before the actor sees anything, timeouts, error masking, concurrency."""

from __future__ import annotations

import asyncio

import pytest

from rivet_dsl.client import ActorError
from rivet_dsl.testing import TestEnvironment

from .actors import registry


async def test_wrong_argument_types_are_rejected_and_change_nothing() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("lifecycle", ["v"])
        await handle.action("increment", 1)
        for bad in (["one"], [1, 2], [None], [1.5], [2**70]):
            with pytest.raises(ActorError) as info:
                await handle.action("increment", *bad)
            assert (info.value.group, info.value.code, info.value.status) == ("request", "invalid_arguments", 400)
        assert await handle.action("get_count") == 1


async def test_user_error_keeps_message_code_and_metadata() -> None:
    async with TestEnvironment(registry) as env:
        with pytest.raises(ActorError) as info:
            await env.client.get_or_create("slow", []).action("fail_user")
        error = info.value
        assert (error.group, error.code, error.message) == ("user", "username_too_short", "Username too short")
        assert error.metadata == {"min": 3}


async def test_other_errors_are_masked_and_the_actor_keeps_working() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("slow", [])
        with pytest.raises(ActorError) as info:
            await handle.action("fail_internal")
        assert (info.value.code, info.value.message) == ("internal_error", "An internal error occurred")
        assert "hunter2" not in repr(info.value)
        assert await handle.action("quick") == "done"


async def test_action_timeout_cancels_and_reports_408() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("slow", [])
        with pytest.raises(ActorError) as info:
            await handle.action("hang")
        assert (info.value.group, info.value.code, info.value.status) == ("actor", "action_timed_out", 408)
        assert await handle.action("quick") == "done"


async def test_actions_run_concurrently_on_one_event_loop() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("gate", [])
        await handle.resolve()
        waiting = asyncio.ensure_future(handle.action("wait"))
        await asyncio.sleep(0)  # let `wait` start (a live actor's call path never suspends before it)
        # `open` runs while `wait` is suspended (serialized actions would deadlock here).
        assert await handle.action("open") == 11
        assert await waiting == 11


async def test_state_changes_are_durable_when_the_action_returns() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("lifecycle", ["d"])
        await handle.action("increment", 5)
        actor_id = await handle.resolve()
        record = await env.runtime.storage.load_actor(actor_id)
        assert record is not None and record.state is not None
        import msgspec

        assert msgspec.msgpack.decode(record.state)["count"] == 5
