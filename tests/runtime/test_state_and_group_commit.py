"""State change notifications, the abort signal, and group commit across actors."""

from __future__ import annotations

import asyncio

from rivet_dsl.testing import MockClock, TestEnvironment

from .actors import registry, watched_registry


async def test_on_state_change_fires_once_per_change_and_not_for_reads() -> None:
    async with TestEnvironment(watched_registry) as env:
        actor = env.client.get_or_create("watched", ["w"])
        await actor.action("bump")
        await actor.action("read")
        await actor.action("bump")
        assert await actor.action("seen") == [2, 4]


async def test_aborted_is_set_when_the_actor_sleeps() -> None:
    clock = MockClock()
    async with TestEnvironment(watched_registry, clock=clock) as env:
        handle = env.client.get_or_create("watched", ["a"])
        assert await handle.action("is_aborted") is False
        live = await env.runtime.acquire(await handle.resolve())
        aborted = live.user.aborted
        await clock.advance(11)
        assert aborted.is_set()
        assert await handle.action("is_aborted") is False  # a new incarnation


async def test_concurrent_writes_from_many_actors_share_commits() -> None:
    async with TestEnvironment(registry) as env:
        handles = [env.client.get_or_create("lifecycle", [f"g{i}"]) for i in range(100)]
        await asyncio.gather(*(h.resolve() for h in handles))
        storage = env.runtime.storage
        commits_before = storage.commits
        results = await asyncio.gather(*(h.action("increment", 1) for h in handles for _ in range(5)))
        assert len(results) == 500
        commits = storage.commits - commits_before
        # 500 acknowledged, durable writes; group commit needs far fewer transactions.
        assert commits < 100, commits
        assert sorted(await asyncio.gather(*(h.action("get_count") for h in handles))) == [5] * 100
