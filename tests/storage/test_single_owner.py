"""A SQLite database has one owner: a second store or runtime on the same file is refused.

The runtime keeps live actors in memory and groups commits, so two runtimes on one file would
each serve their own copy of an actor and lose each other's acknowledged writes. These tests
open real files in this process; ``test_single_owner_server`` does the same across processes.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from rivet_dsl import StorageError
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import ActorRecord, SqliteStorage, WriteBatch
from tests.server.actors import registry


def actor(actor_id: str = "a1", state: bytes = b"s0") -> ActorRecord:
    return ActorRecord(actor_id, "counter", "k", b"input", 1.0, state, None)


async def refused(store: SqliteStorage, path: Path) -> StorageError:
    """Open ``store``, which must be refused because ``path`` is in use."""
    with pytest.raises(StorageError) as info:
        await store.open()
    error = info.value
    assert (error.group, error.code) == ("storage", "database_in_use"), repr(error)
    assert str(path) in error.message
    return error


async def test_second_store_on_the_same_file_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "rivet.db"
    first = SqliteStorage(path)
    await first.open()
    try:
        error = await refused(SqliteStorage(path), path)
        assert f"process {os.getpid()}" in error.message  # the owner's pid, read from the lock file
        # The owner is unaffected by the refusal.
        first.batch.create_actor(actor())
        await first.commit()
    finally:
        await first.close()
    # Closed: the file is free again, and the next owner sees what the first committed.
    async with SqliteStorage(path) as second:
        record = await second.load_actor("a1")
        assert record is not None and record.state == b"s0"


async def test_a_crashed_store_gives_the_file_up(tmp_path: Path) -> None:
    # Storage.abort is the in-process crash (Runtime.crash, TestEnvironment.restart).
    path = tmp_path / "rivet.db"
    first = SqliteStorage(path)
    await first.open()
    first.batch.create_actor(actor())
    await first.commit()
    await first.abort()
    async with SqliteStorage(path) as second:
        assert await second.load_actor("a1") is not None


async def test_second_runtime_on_the_same_file_is_refused_and_no_acknowledged_write_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "rivet.db"
    owner = Runtime(registry, storage=SqliteStorage(path))
    intruder = Runtime(registry, storage=SqliteStorage(path))
    await owner.start()
    try:
        with pytest.raises(StorageError) as info:
            await intruder.start()
        assert info.value.code == "database_in_use"
        counter = owner.client().get_or_create("counter", "shared")
        for _ in range(20):
            await counter.action("increment", 1)
    finally:
        await owner.stop()
    again = Runtime(registry, storage=SqliteStorage(path))
    await again.start()
    try:
        assert await again.client().get_or_create("counter", "shared").action("getCount") == 20
    finally:
        await again.stop()


async def test_a_symlinked_path_is_the_same_database(tmp_path: Path) -> None:
    path = tmp_path / "data" / "rivet.db"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "data", target_is_directory=True)
    async with SqliteStorage(path):
        await refused(SqliteStorage(link / "rivet.db"), link / "rivet.db")


async def test_a_refused_store_does_not_touch_the_database(tmp_path: Path) -> None:
    from rivet_dsl.storage._lock import OwnershipLock

    path = tmp_path / "rivet.db"
    ownership = OwnershipLock.acquire(path)
    assert ownership is not None
    try:
        await refused(SqliteStorage(path), path)
        assert not path.exists()  # not created, let alone migrated
    finally:
        ownership.release()
    async with SqliteStorage(path) as store:
        assert await store.schema_version() >= 1


async def test_a_store_that_failed_to_open_gives_the_file_up(tmp_path: Path) -> None:
    path = tmp_path / "rivet.db"
    async with SqliteStorage(path):
        pass
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE rivet_meta SET value='99' WHERE key='schema_version'")
    newer = SqliteStorage(path)
    with pytest.raises(StorageError, match="newer than this rivet_dsl"):
        await newer.open()
    await newer.db.close()
    # Refused for its schema, not for ownership: the failed store no longer holds the file.
    again = SqliteStorage(path)
    with pytest.raises(StorageError, match="newer than this rivet_dsl"):
        await again.open()
    await again.db.close()


async def test_in_memory_databases_are_private_and_need_no_lock() -> None:
    async with SqliteStorage(":memory:") as one, SqliteStorage(":memory:") as two:
        assert await one.schema_version() == await two.schema_version() >= 1
    assert not Path(":memory:.lock").exists()


class FailsLastCommit(SqliteStorage):
    """The real store, except that its transactions fail once ``failing`` is set."""

    failing = False

    def _apply_sync(self, batch: WriteBatch, bulk: bool, checkpoint: bool = False) -> None:
        if self.failing:
            raise StorageError("disk I/O error")
        super()._apply_sync(batch, bulk, checkpoint)


async def test_a_close_whose_last_commit_fails_still_gives_the_file_up(tmp_path: Path) -> None:
    path = tmp_path / "rivet.db"
    first = FailsLastCommit(path)
    await first.open()
    first.batch.create_actor(actor())
    first.failing = True
    with pytest.raises(StorageError):
        await first.close()
    async with SqliteStorage(path) as second:  # (refused as in use before)
        assert await second.load_actor("a1") is None  # the failed commit wrote nothing
