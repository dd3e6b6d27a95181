"""Addressing and lifecycle: create -> on_create -> on_wake, get/create/get_for_id, destroy, sleep and wake."""

from __future__ import annotations

import pytest

from rivet_dsl.client import ActorError
from rivet_dsl.testing import MockClock, TestEnvironment

from .actors import registry


async def test_create_runs_hooks_in_order_and_passes_input() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("lifecycle", ["a"], input={"start": 5})
        assert await handle.action("increment", 2) == 7
        assert await handle.action("get_log") == ["create_state", "on_create", "on_wake"]
        assert await handle.action("get_var") == "set in on_wake"
        assert await handle.action("get_key") == ["a"]


async def test_get_fails_for_a_missing_actor_and_create_twice_fails() -> None:
    async with TestEnvironment(registry) as env:
        with pytest.raises(ActorError) as missing:
            await env.client.get("lifecycle", ["nobody"]).action("get_count")
        assert (missing.value.group, missing.value.code) == ("actor", "not_found")
        created = await env.client.create("lifecycle", ["x"])
        assert await created.action("increment") == 1
        with pytest.raises(ActorError) as twice:
            await env.client.create("lifecycle", ["x"])
        assert twice.value.code == "duplicate_key"
        assert await env.client.get("lifecycle", ["x"]).action("get_count") == 1


async def test_keys_bare_string_equals_one_element_list_and_ids_are_stable() -> None:
    async with TestEnvironment(registry) as env:
        by_string = await env.client.get_or_create("lifecycle", "room").resolve()
        by_list = await env.client.get_or_create("lifecycle", ["room"]).resolve()
        compound = await env.client.get_or_create("lifecycle", ["org", "room"]).resolve()
        assert by_string == by_list != compound
        await env.client.get_for_id("lifecycle", by_list).action("increment", 3)
        assert await env.client.get("lifecycle", "room").action("get_count") == 3
        await env.restart()
        assert await env.client.get_or_create("lifecycle", ["room"]).resolve() == by_list


async def test_unknown_actor_name_and_action() -> None:
    async with TestEnvironment(registry) as env:
        with pytest.raises(ActorError) as unknown_actor:
            await env.client.get_or_create("nope", ["a"]).action("x")
        assert unknown_actor.value.code == "not_found"
        with pytest.raises(ActorError) as unknown_action:
            await env.client.get_or_create("lifecycle", ["a"]).action("nope")
        assert (unknown_action.value.code, unknown_action.value.status) == ("action_not_found", 404)


async def test_destroy_deletes_state_and_the_key_can_be_recreated() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("lifecycle", ["gone"])
        await handle.action("increment", 9)
        old_id = await handle.resolve()
        await handle.destroy()
        with pytest.raises(ActorError) as missing:
            await env.client.get_for_id("lifecycle", old_id).action("get_count")
        assert missing.value.code == "not_found"
        assert await handle.action("get_count") == 0
        assert await handle.resolve() != old_id


async def test_self_destroy_runs_after_the_action_returns() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("lifecycle", ["self"])
        await handle.action("increment", 4)
        actor_id = await handle.resolve()
        await handle.action("destroy_me")
        info = await env.runtime.list_actors("lifecycle")
        assert actor_id not in {i.actor_id for i in info}
        assert await handle.action("get_count") == 0


async def test_idle_actor_sleeps_after_timeout_and_wakes_transparently() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("lifecycle", ["sleepy"])
        await handle.action("increment", 1)
        assert env.runtime.live_count() == 1
        await clock.advance(9.9)
        assert env.runtime.live_count() == 1
        await clock.advance(0.2)
        assert env.runtime.live_count() == 0
        # Waking re-runs on_wake (vars are rebuilt) and keeps the state that sleep saved.
        assert await handle.action("increment", 1) == 2
        assert await handle.action("get_log") == ["create_state", "on_create", "on_wake", "on_sleep", "on_wake"]
        assert await handle.action("get_var") == "set in on_wake"
        assert env.runtime.wakes == 1


async def test_activity_postpones_sleep() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("lifecycle", ["busy"])
        for _ in range(5):
            await handle.action("increment")
            await clock.advance(6)
        assert env.runtime.live_count() == 1
        await clock.advance(5)
        assert env.runtime.live_count() == 0


async def test_open_connection_keeps_the_actor_awake() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("room", ["r"])
        async with handle.connect({"user": "ann"}):
            await clock.advance(60)
            assert env.runtime.live_count() == 1
        await clock.advance(11)
        assert env.runtime.live_count() == 0


async def test_graceful_stop_saves_and_runs_on_sleep(tmp_path: object) -> None:
    db = f"{tmp_path}/shared.db"
    async with TestEnvironment(registry, db=db) as env:
        await env.client.get_or_create("lifecycle", ["s"]).action("increment", 3)
    async with TestEnvironment(registry, db=db) as env:
        handle = env.client.get_or_create("lifecycle", ["s"])
        assert await handle.action("get_count") == 3
        assert await handle.action("get_log") == ["create_state", "on_create", "on_wake", "on_sleep", "on_wake"]
