"""Every non-workflow example, driven through the client as a user would."""

from __future__ import annotations

import pytest

from examples import chat_room, coordinator, counter, counter_worker, reminder, user_profile
from rivet_dsl.client import ActorError
from rivet_dsl.testing import MockClock, TestEnvironment


async def test_counter_increments_broadcasts_and_persists() -> None:
    async with TestEnvironment(counter.registry) as env:
        handle = env.client.get_or_create("counter", ["main"])
        seen: list[int] = []
        async with handle.connect() as conn:
            conn.on("count", seen.append)
            assert await conn.action("increment", 5) == 5
            assert await handle.action("increment") == 6
        await env.restart()
        assert await handle.action("get_count") == 6
        assert seen == [5, 6]


async def test_chat_room_params_conn_state_events_and_rejection() -> None:
    async with TestEnvironment(chat_room.registry) as env:
        room = env.client.get_or_create("chat_room", ["org-acme", "general"], input={"room_name": "General"})
        assert await room.action("get_room_name") == "General"
        ann_seen: list[dict[str, str]] = []
        bob_notes: list[dict[str, str]] = []
        async with room.connect({"user_id": "ann"}) as ann, room.connect({"user_id": "bob"}) as bob:
            ann.on("new_message", ann_seen.append)
            bob.on("notification", bob_notes.append)
            assert await ann.action("send_message", "hello") == {"user": "ann", "text": "hello"}
            identity = await bob.action("who_am_i")
            assert identity["user_id"] == "bob" and identity["connection_id"] == bob.connection_id
            assert await ann.action("notify_others", "ping") == 1
            with pytest.raises(ActorError) as empty:
                await ann.action("send_message", "   ")
            assert empty.value.code == "empty_message"
        assert ann_seen == [{"user": "ann", "text": "hello"}]
        assert bob_notes == [{"text": "ping"}]
        with pytest.raises(ActorError) as banned:
            async with room.connect({"user_id": "eve", "token": "banned"}):
                pass
        assert banned.value.code == "forbidden"
        assert await room.action("get_history") == [{"user": "ann", "text": "hello"}]


async def test_reminder_fires_after_sleep_and_restart() -> None:
    clock = MockClock()
    async with TestEnvironment(reminder.registry, clock=clock) as env:
        actor = env.client.get_or_create("reminder", ["r"])
        await actor.action("set_reminder", "stand up", 120.0)
        cancelled = await actor.action("set_reminder_at", "never", clock.now() + 60)
        assert await actor.action("cancel_reminder", cancelled) is True
        assert [call["action"] for call in await actor.action("pending")] == ["send_reminder"]
        await env.restart()
        await clock.advance(31)
        assert env.runtime.live_count() == 0
        await clock.advance(100)
        state = await actor.action("get_state")
        # One reminder fired, once, with the message stored last (the seed keeps one message).
        assert state["fired"] == ["never"]


async def test_coordinator_creates_data_actors_through_its_client() -> None:
    async with TestEnvironment(coordinator.registry) as env:
        rooms = env.client.get_or_create("room_list", ["org-acme"])
        general_id = await rooms.action("add_room", "general")
        await rooms.action("add_room", "random")
        assert await rooms.action("list_rooms") == ["general", "random"]
        general = env.client.get("room", ["org-acme", "general"])
        assert await general.resolve() == general_id
        assert await general.action("send", "hi") == 1
        with pytest.raises(ActorError) as twice:
            await rooms.action("add_room", "general")
        assert twice.value.code == "duplicate_key"
        assert await rooms.action("list_rooms") == ["general", "random"]


async def test_counter_worker_run_loop_applies_each_message_once() -> None:
    async with TestEnvironment(counter_worker.registry) as env:
        worker = env.client.get_or_create("counter_worker", ["w"])
        for delta in (1, 2, 3):
            await worker.send("mutate", {"delta": delta})
        await env.restart()
        await worker.send("mutate", {"delta": 4})
        actor = await env.runtime.acquire(await worker.resolve())
        while len(actor.queue):
            await actor.commit()
        assert await worker.action("get_value") == 10


async def test_user_profile_errors_and_destroy() -> None:
    async with TestEnvironment(user_profile.registry) as env:
        profile = env.client.get_or_create("user_profile", ["u1"])
        with pytest.raises(ActorError) as short:
            await profile.action("update_username", "ab")
        assert (short.value.code, short.value.metadata) == ("username_too_short", {"min_length": 3, "actual": 2})
        assert await profile.action("update_username", "alice") == "alice"
        old_id = await profile.resolve()
        await profile.action("delete_account")
        assert await profile.action("get_profile") == {"username": "", "email": ""}
        assert await profile.resolve() != old_id
