"""The storage contract: every driver passes the same suite (SQLite on a real file, in-memory)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rivet_dsl import StorageError
from rivet_dsl.storage import ActorRecord, MemoryStorage, QueueRow, ScheduleRow, SqliteStorage, Storage
from rivet_dsl.storage._sqlite import _CHECKPOINT_EVERY_PAGES


@pytest.fixture(params=["sqlite", "memory"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store: Storage = SqliteStorage(tmp_path / "db" / "rivet.db") if request.param == "sqlite" else MemoryStorage()
    await store.open()
    yield store
    await store.close()


def actor(actor_id: str = "a1", name: str = "counter", key: str = "k", state: bytes = b"s0") -> ActorRecord:
    return ActorRecord(actor_id, name, key, b"input", 1.0, state, None)


async def test_create_load_and_find(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    await storage.commit()
    loaded = await storage.load_actor("a1")
    assert loaded == actor()
    assert await storage.find_actor("counter", "k") == actor()
    assert await storage.find_actor("counter", "other") is None
    assert await storage.load_actor("missing") is None


async def test_state_writes_coalesce_and_last_write_wins(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    storage.batch.put_state("a1", b"s1")
    storage.batch.put_state("a1", b"s2")
    await storage.commit()
    record = await storage.load_actor("a1")
    assert record is not None and record.state == b"s2"


async def test_commit_future_is_shared_by_everything_pending(storage: Storage) -> None:
    storage.batch.create_actor(actor("a1", key="1"))
    first = storage.commit()
    storage.batch.create_actor(actor("a2", key="2"))
    second = storage.commit()
    assert first is second
    await first
    assert await storage.load_actor("a2") is not None


async def test_group_commit_batches_concurrent_writers(storage: Storage) -> None:
    for i in range(50):
        storage.batch.create_actor(actor(f"a{i}", key=str(i)))
    await storage.commit()
    commits_before = storage.commits

    async def write(i: int) -> None:
        storage.batch.put_state(f"a{i}", b"v%d" % i)
        await storage.commit()

    await asyncio.gather(*(write(i) for i in range(50)))
    # 50 concurrent acknowledged writes needed far fewer than 50 transactions.
    assert storage.commits - commits_before < 10
    for i in range(50):
        record = await storage.load_actor(f"a{i}")
        assert record is not None and record.state == b"v%d" % i


async def test_queue_rows_are_fifo_and_deletable(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    for seq in (1, 2, 3):
        storage.batch.enqueue(QueueRow("a1", seq, "jobs", b"body%d" % seq, float(seq)))
    storage.batch.dequeue("a1", 2)
    await storage.commit()
    rows = await storage.load_queue("a1")
    assert [(r.seq, r.body) for r in rows] == [(1, b"body1"), (3, b"body3")]


async def test_enqueue_and_dequeue_in_one_batch_ends_deleted(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    storage.batch.dequeue("a1", 7)
    storage.batch.enqueue(QueueRow("a1", 7, "jobs", b"x", 1.0))
    await storage.commit()
    assert await storage.load_queue("a1") == []


async def test_row_enqueued_and_dequeued_in_one_batch_is_never_written(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    await storage.commit()
    storage.batch.enqueue(QueueRow("a1", 1, "jobs", b"handed-off", 1.0))
    storage.batch.enqueue(QueueRow("a1", 2, "jobs", b"stays", 2.0))
    storage.batch.dequeue("a1", 1)
    assert storage.batch.size() == 1  # only the insert of seq 2
    rows_before = storage.rows_written
    await storage.commit()
    assert storage.rows_written - rows_before == 1
    assert [(r.seq, r.body) for r in await storage.load_queue("a1")] == [(2, b"stays")]


async def test_schedules_and_alarms(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    storage.batch.put_schedule(ScheduleRow("a1", "s2", 20.0, "tick", b"", 1.0))
    storage.batch.put_schedule(ScheduleRow("a1", "s1", 10.0, "tick", b"", 1.0))
    storage.batch.set_alarm("a1", 10.0)
    await storage.commit()
    assert [r.schedule_id for r in await storage.load_schedules("a1")] == ["s1", "s2"]
    assert await storage.load_alarms() == [("a1", 10.0)]
    storage.batch.delete_schedule("a1", "s1")
    storage.batch.set_alarm("a1", None)
    await storage.commit()
    assert [r.schedule_id for r in await storage.load_schedules("a1")] == ["s2"]
    assert await storage.load_alarms() == []


async def test_kv_put_delete_prefix_and_ranges(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    for key in (b"wf/a", b"wf/b", b"wf/c", b"x/z"):
        storage.batch.kv_put("a1", key, key.upper())
    await storage.commit()
    assert await storage.load_kv("a1", b"wf/") == [(b"wf/a", b"WF/A"), (b"wf/b", b"WF/B"), (b"wf/c", b"WF/C")]
    storage.batch.kv_delete_range("a1", b"wf/a", b"wf/c")
    storage.batch.kv_delete("a1", b"x/z")
    await storage.commit()
    assert await storage.load_kv("a1") == [(b"wf/c", b"WF/C")]


async def test_range_delete_drops_puts_of_the_same_batch(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    storage.batch.kv_put("a1", b"k1", b"v")
    storage.batch.kv_delete_range("a1", b"k0", b"k9")
    storage.batch.kv_put("a1", b"k5", b"after")
    await storage.commit()
    assert await storage.load_kv("a1") == [(b"k5", b"after")]


async def test_destroy_removes_everything_and_the_key_can_be_reused(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    storage.batch.enqueue(QueueRow("a1", 1, "jobs", b"x", 1.0))
    storage.batch.put_schedule(ScheduleRow("a1", "s", 5.0, "tick", b"", 1.0))
    storage.batch.kv_put("a1", b"k", b"v")
    storage.batch.set_alarm("a1", 5.0)
    await storage.commit()
    storage.batch.destroy_actor("a1")
    storage.batch.put_state("a1", b"late write for a destroyed actor")
    await storage.commit()
    assert await storage.load_actor("a1") is None
    assert await storage.load_queue("a1") == []
    assert await storage.load_schedules("a1") == []
    assert await storage.load_kv("a1") == []
    assert await storage.load_alarms() == []
    storage.batch.create_actor(actor("a2"))
    await storage.commit()
    found = await storage.find_actor("counter", "k")
    assert found is not None and found.actor_id == "a2"


async def test_list_actors_filters_by_name_without_state(storage: Storage) -> None:
    storage.batch.create_actor(actor("a1", name="counter", key="1"))
    storage.batch.create_actor(actor("a2", name="chat", key="1"))
    await storage.commit()
    listed = await storage.list_actors("counter")
    assert [r.actor_id for r in listed] == ["a1"]
    assert listed[0].state is None
    assert {r.actor_id for r in await storage.list_actors()} == {"a1", "a2"}


@pytest.mark.parametrize("others", [0, 400])
async def test_duplicate_key_fails_the_whole_batch(storage: Storage, others: int) -> None:
    # With 400 other new actors the batch is big enough to start committing at once, on
    # SQLite's writer thread and with bulk statements; it must fail just as whole.
    storage.batch.create_actor(actor("a1"))
    await storage.commit()
    for i in range(others):
        storage.batch.create_actor(actor(f"o{i}", key=str(i)))
        storage.batch.put_state(f"o{i}", b"new")
    storage.batch.create_actor(actor("a2"))  # same name and key
    storage.batch.put_state("a1", b"must not land")
    failing = storage.commit()
    if others and isinstance(storage, SqliteStorage):
        assert storage._busy
    with pytest.raises(StorageError):
        await failing
    record = await storage.load_actor("a1")
    assert record is not None and record.state == b"s0"
    assert await storage.load_actor("a2") is None
    assert await storage.load_actor("o5") is None
    # The store keeps working after a failed batch. The actors it wrote for are fenced: what
    # they write next was made on top of the failed writes, and is dropped until the runtime
    # reloads them (unfence).
    storage.batch.create_actor(actor("b1", key="b1"))
    storage.batch.put_state("a1", b"made on top of the failed batch")
    await storage.commit()
    record = await storage.load_actor("a1")
    assert record is not None and record.state == b"s0"
    assert await storage.load_actor("b1") is not None
    storage.unfence("a1")
    storage.batch.put_state("a1", b"ok")
    await storage.commit()
    record = await storage.load_actor("a1")
    assert record is not None and record.state == b"ok"


async def test_abort_drops_unacknowledged_writes(tmp_path: Path) -> None:
    path = tmp_path / "rivet.db"
    store = SqliteStorage(path)
    await store.open()
    store.batch.create_actor(actor())
    await store.commit()
    store.batch.put_state("a1", b"never acknowledged")
    await store.abort()
    reopened = SqliteStorage(path)
    await reopened.open()
    record = await reopened.load_actor("a1")
    assert record is not None and record.state == b"s0"
    await reopened.close()


async def test_sqlite_file_is_wal_versioned_and_fsync_mode_is_full(tmp_path: Path) -> None:
    path = tmp_path / "rivet.db"
    store = SqliteStorage(path, fsync=True)
    await store.open()
    assert await store.schema_version() == 1
    rows = list(await store.db.execute_fetchall("PRAGMA synchronous"))
    assert rows[0][0] == 2  # FULL
    await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT value FROM rivet_meta WHERE key='schema_version'").fetchone()[0] == "1"


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rivet.db"
    store = SqliteStorage(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE rivet_meta SET value='99' WHERE key='schema_version'")
    newer = SqliteStorage(path)
    with pytest.raises(Exception, match="newer than this rivet_dsl"):
        await newer.open()
    await newer.db.close()


async def test_sqlite_wal_stays_bounded_over_many_small_commits(tmp_path: Path) -> None:
    # Small commits run on the event loop with SQLite's auto-checkpoint off; the store's own
    # checkpoints (copied in the background, finished by the writer) must keep the WAL from
    # growing with every commit.
    path = tmp_path / "rivet.db"
    async with SqliteStorage(path) as store:
        store.batch.create_actor(actor())
        await store.commit()
        commits = 4 * _CHECKPOINT_EVERY_PAGES  # ~2.5 WAL pages each: ~10 checkpoint intervals
        for i in range(commits):
            store.batch.put_state("a1", b"s%d" % i)
            store.batch.kv_put("a1", b"k%d" % (i % 50), b"v" * 100)
            await store.commit()
        wal_pages = (tmp_path / "rivet.db-wal").stat().st_size // 4096
        # Without checkpoints the WAL holds every commit's pages (~66,000 here).
        # With them: about 6,300 here; never more than twice the interval (plus a commit).
        assert wal_pages < 2.2 * _CHECKPOINT_EVERY_PAGES
        # The copying ran beside the commits; the writer only finished each run.
        checkpointer = store._checkpointer
        assert checkpointer.background_runs >= 3
        assert checkpointer.writer_runs >= 3
        record = await store.load_actor("a1")
        assert record is not None and record.state == b"s%d" % (commits - 1)


async def test_sqlite_large_and_small_batches_interleave(tmp_path: Path) -> None:
    # Batches above the inline threshold commit on the writer thread, small ones on the loop;
    # both paths share one connection and must apply in order.
    path = tmp_path / "rivet.db"
    async with SqliteStorage(path) as store:
        for i in range(500):
            store.batch.create_actor(actor(f"a{i}", key=str(i)))
        await store.commit()
        store.batch.put_state("a0", b"small")
        await store.commit()
        for i in range(500):
            store.batch.put_state(f"a{i}", b"large")
        await store.commit()
        store.batch.put_state("a1", b"small again")
        await store.commit()
    with sqlite3.connect(path) as raw:
        states = dict(raw.execute("SELECT actor_id, state FROM actors"))
    assert len(states) == 500
    assert states["a0"] == b"large"
    assert states["a1"] == b"small again"
    assert states["a499"] == b"large"


async def test_large_batches_of_every_kind_apply_exactly(storage: Storage) -> None:
    # Thousands of rows of each kind in one batch: SQLite writes each kind with a few
    # many-row statements (padded to power-of-two sizes, split above 4,096 rows).
    n = 300
    for i in range(n):
        storage.batch.create_actor(actor(f"a{i}", key=str(i)))
    for i in range(n):
        storage.batch.put_state(f"a{i}", b"state%d" % i)
        storage.batch.set_alarm(f"a{i}", float(i) if i % 2 else None)
        for seq in range(1, 18):
            storage.batch.enqueue(QueueRow(f"a{i}", seq, "jobs", b"m%d" % seq, 1.0))
        for k in range(15):
            storage.batch.kv_put(f"a{i}", b"k%02d" % k, b"v%d-%d" % (i, k))
        storage.batch.put_schedule(ScheduleRow(f"a{i}", "s1", 5.0, "tick", b"[]", 1.0))
        storage.batch.put_schedule(ScheduleRow(f"a{i}", "s2", 6.0, "tick", b"[]", 1.0))
    await storage.commit()
    for i in range(n):
        for seq in range(1, 18, 2):
            storage.batch.dequeue(f"a{i}", seq)
        storage.batch.kv_delete(f"a{i}", b"k00")
        storage.batch.kv_delete_range(f"a{i}", b"k10", b"k13")
        storage.batch.delete_schedule(f"a{i}", "s1")
    for i in range(0, n, 50):
        storage.batch.destroy_actor(f"a{i}")
    await storage.commit()
    alarms = dict(await storage.load_alarms())
    for i in range(n):
        record = await storage.load_actor(f"a{i}")
        if i % 50 == 0:
            assert record is None
            assert await storage.load_queue(f"a{i}") == []
            assert await storage.load_kv(f"a{i}") == []
            continue
        assert record is not None and record.state == b"state%d" % i
        assert alarms.get(f"a{i}") == (float(i) if i % 2 else None)
        assert [r.seq for r in await storage.load_queue(f"a{i}")] == list(range(2, 18, 2))
        kept = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14]
        assert await storage.load_kv(f"a{i}") == [(b"k%02d" % k, b"v%d-%d" % (i, k)) for k in kept]
        assert [s.schedule_id for s in await storage.load_schedules(f"a{i}")] == ["s2"]


async def test_big_batch_commits_at_once_and_in_order(storage: Storage) -> None:
    for i in range(400):
        storage.batch.create_actor(actor(f"a{i}", key=str(i)))
    await storage.commit()
    for i in range(400):
        storage.batch.put_state(f"a{i}", b"first")
    first = storage.commit()
    if isinstance(storage, SqliteStorage):
        # Big enough to be worth a transaction: it is already on its way (on the writer
        # thread), and what is written from now on goes to the next one.
        assert storage._busy and storage._pending_future is None
    storage.batch.put_state("a1", b"second")
    second = storage.commit()
    assert second is not first or not isinstance(storage, SqliteStorage)
    await second
    assert first.done()
    record = await storage.load_actor("a1")
    assert record is not None and record.state == b"second"
    record = await storage.load_actor("a399")
    assert record is not None and record.state == b"first"


async def test_sqlite_next_big_commit_starts_as_soon_as_the_previous_one_is_done(tmp_path: Path) -> None:
    # A commit that lands wakes every writer waiting for it; the event loop runs them all before
    # it runs the thread's done callback. The writes they make settle the landed transaction and
    # start the next one meanwhile, so the disk does not idle while the event loop catches up.
    async with SqliteStorage(tmp_path / "rivet.db") as store:
        for i in range(800):
            store.batch.create_actor(actor(f"a{i}", key=str(i)))
        await store.commit()
        for i in range(400):
            store.batch.put_state(f"a{i}", b"first")
        first = store.commit()
        assert store._in_flight is not None
        store._in_flight[0].result(timeout=30)  # the thread is done; the event loop has not run since
        assert not first.done()
        for i in range(400, 800):
            store.batch.put_state(f"a{i}", b"second")
        second = store.commit()
        assert first.done() and first.exception() is None
        assert store._busy and store._pending_future is None and second is not first
        await second
        for actor_id, state in (("a0", b"first"), ("a799", b"second")):
            record = await store.load_actor(actor_id)
            assert record is not None and record.state == state
        assert store.commits == 3


async def test_sqlite_large_commit_takes_a_few_statements_not_one_per_row(tmp_path: Path) -> None:
    # On the writer thread each statement hands the GIL back once; with one statement per row
    # a busy event loop made a 3,000-row commit wait for the GIL 3,000 times (see _bulk).
    async with SqliteStorage(tmp_path / "rivet.db") as store:
        for i in range(1000):
            store.batch.create_actor(actor(f"a{i}", key=str(i)))
        await store.commit()
        statements: list[str] = []
        assert store._write_conn is not None
        # The VALUES rows of a bulk statement are materialized in memory, not in a temp file.
        assert store._write_conn.execute("PRAGMA temp_store").fetchone() == (2,)
        store._write_conn.set_trace_callback(statements.append)
        for i in range(1000):
            store.batch.put_state(f"a{i}", b"s")
            store.batch.set_alarm(f"a{i}", 5.0)
            store.batch.kv_put(f"a{i}", b"k1", b"v")
            store.batch.kv_put(f"a{i}", b"k2", b"v")
            store.batch.enqueue(QueueRow(f"a{i}", 1, "jobs", b"m", 1.0))
        await store.commit()
        store._write_conn.set_trace_callback(None)
        # BEGIN, one statement per kind of write, COMMIT. (A statement whose rows run triggers
        # is traced again for each of them, with the same text.)
        distinct = list(dict.fromkeys(statements))
        assert len(distinct) == 6, distinct
        assert distinct[0] == "BEGIN IMMEDIATE" and distinct[-1] == "COMMIT"
        assert all(" FROM (VALUES " in s for s in distinct[1:-1])
        record = await store.load_actor("a999")
        assert record is not None and record.state == b"s" and record.alarm_at == 5.0
        assert await store.load_kv("a500") == [(b"k1", b"v"), (b"k2", b"v")]
        assert [r.seq for r in await store.load_queue("a7")] == [1]


async def test_requeue_cancels_a_pending_dequeue_or_undoes_a_committed_one(storage: Storage) -> None:
    storage.batch.create_actor(actor())
    rows = [QueueRow("a1", seq, "jobs", b"m%d" % seq, 1.0) for seq in (1, 2)]
    for row in rows:
        storage.batch.enqueue(row)
    await storage.commit()
    storage.batch.dequeue("a1", 1)
    storage.batch.requeue(rows[0])  # the delete was still pending
    storage.batch.dequeue("a1", 2)
    await storage.commit()
    assert await storage.load_queue("a1") == [rows[0]]
    storage.batch.requeue(rows[1])  # the delete had landed
    await storage.commit()
    assert await storage.load_queue("a1") == rows
