"""The embedded default store: one SQLite database file in WAL mode.

Reads and migrations go through aiosqlite; the group-commit writer owns a second connection
(WAL lets the two coexist, and a read issued after a commit was acknowledged sees it). A small
batch without fsync commits directly on the event loop (~20 µs, where a hop to a thread and back
costs ~100 µs); large batches and fsync commits run on the writer's own thread, one hop per
transaction, in a few many-row statements (``_bulk``) so the thread seldom needs the GIL. WAL
checkpoints run on a third connection beside the commits (``_checkpoint``).

A store is the only owner of its file: opening takes an exclusive lock on ``<database>.lock``
(released on close, and by the OS when the process dies) and a second store on the same file,
in this process or another, is refused with :class:`~rivet_dsl._errors.DatabaseInUseError`
before it touches the database (see ``_lock``).

``synchronous=NORMAL`` (the default) survives a process crash (``kill -9``); ``fsync=True``
uses ``synchronous=FULL`` and also survives power loss. The schema is versioned; migrations
run in order when the file is opened.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiosqlite

from .._errors import StorageError
from ._bulk import RowWriter
from ._base import ActorRecord, QueueRow, ScheduleRow, Storage, WriteBatch
from ._checkpoint import Checkpointer
from ._lock import OwnershipLock
from ._schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SqliteStorage"]

_log = logging.getLogger("rivet_dsl.storage")

#: Batches up to this many row writes commit on the event loop thread (when not in fsync mode).
_INLINE_MAX_ROWS = 64
#: A WAL checkpoint runs (see ``_checkpoint``) once this many pages may have been appended to
#: the WAL (estimated as one per transaction plus one per row write), in place of SQLite's
#: auto-checkpoint, so the WAL file stays bounded (about 32 MiB, never twice that). Not SQLite's 1,000:
#: a checkpoint copies every page the WAL holds, and commits of many actors touch the same
#: pages again and again (each actor's latest history page, the state rows), so checkpointing
#: every 8,000 pages instead of every 1,000 copies each hot page once rather than once per
#: commit (30 -> 12 µs per step in a 1,000-actor commit replay).
_CHECKPOINT_EVERY_PAGES = 8000
#: Page cache of the writer connection, in KiB (SQLite's default is 2 MiB). The history of
#: 1,000 busy workflow actors is ~10 MiB; with a 2 MiB cache every commit re-reads most of
#: the pages it changes (29 -> 17 µs per step in the same replay).
_WRITER_CACHE_KIB = 65536

_ACTOR_COLUMNS = "actor_id, name, key, input, created_at, state, alarm_at"


def _actor(row: Iterable[Any]) -> ActorRecord:
    actor_id, name, key, input_, created_at, state, alarm_at = row
    return ActorRecord(actor_id, name, key, input_, created_at, state, alarm_at)


class SqliteStorage(Storage):
    """SQLite (WAL) store with group commit.

    Args:
        path: the database file; its directory is created if missing.
        fsync: ``synchronous=FULL`` instead of ``NORMAL`` (survives power loss, slower commits).

    Raises (on open):
        DatabaseInUseError: another store, in this process or another, has the file open.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.fsync = fsync
        self._db: aiosqlite.Connection | None = None
        #: The group-commit writer's connection: used by one batch at a time, on the event loop
        #: (small batches) or on the writer thread (large ones, fsync, checkpoints).
        self._write_conn: sqlite3.Connection | None = None
        self._rows: RowWriter | None = None
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rivet-sqlite-writer")
        self._checkpointer = Checkpointer(self.path, "FULL" if fsync else "NORMAL", _CHECKPOINT_EVERY_PAGES)
        #: Held from open to close: the runtime keeps actors in memory and groups commits, so
        #: it must be the file's only writer.
        self._ownership: OwnershipLock | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("storage is not open")
        return self._db

    async def _open(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        if self._ownership is None:
            # Before the database is touched: a refused store must not even run a migration.
            self._ownership = OwnershipLock.acquire(self.path)
        try:
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            db = self._db
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
            await db.execute("PRAGMA busy_timeout=10000")
            await self._migrate()
            loop = asyncio.get_running_loop()
            self._write_conn = await loop.run_in_executor(self._writer_thread, self._connect_writer)
            await self._checkpointer.open()
        except BaseException:
            # A store that failed to open is not closed by anyone (close() sees it closed).
            self._release_ownership()
            raise

    def _release_ownership(self) -> None:
        ownership, self._ownership = self._ownership, None
        if ownership is not None:
            ownership.release()

    def _connect_writer(self) -> sqlite3.Connection:
        # Room for every bulk statement size (see _bulk) besides the per-row statements.
        writer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, cached_statements=512)
        writer.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        writer.execute("PRAGMA busy_timeout=10000")
        # Checkpoints are driven by _apply: in the background, finished on this thread (they
        # fsync the database file, which must never happen on the event loop).
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute(f"PRAGMA cache_size=-{_WRITER_CACHE_KIB}")
        # A bulk statement's VALUES rows are materialized in a temporary table first; in a
        # temporary file (the default), a 2,000-row write cost 12-30 µs per row, in memory
        # 8-10 µs (at most _bulk's 4,096 rows, well under 1 MiB).
        writer.execute("PRAGMA temp_store=MEMORY")
        self._rows = RowWriter(writer)
        self._rows.install()
        return writer

    async def _migrate(self) -> None:
        db = self.db
        await db.execute("CREATE TABLE IF NOT EXISTS rivet_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        rows = list(await db.execute_fetchall("SELECT value FROM rivet_meta WHERE key = 'schema_version'"))
        version = int(rows[0][0]) if rows else 0
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"database {self.path} has schema version {version}, newer than this rivet_dsl ({SCHEMA_VERSION})"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[target]:
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO rivet_meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (str(target),),
                )
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        """The schema version recorded in the file."""
        rows = list(await self.db.execute_fetchall("SELECT value FROM rivet_meta WHERE key = 'schema_version'"))
        return int(rows[0][0]) if rows else 0

    async def _close(self) -> None:
        try:
            await self._checkpointer.close()
            writer, self._write_conn = self._write_conn, None
            if writer is not None:
                await asyncio.get_running_loop().run_in_executor(self._writer_thread, writer.close)
            self._writer_thread.shutdown(wait=True)
            db, self._db = self._db, None
            if db is not None:
                await db.close()
        finally:
            # Last: the next owner must find every connection of this one closed.
            self._release_ownership()

    async def _apply(self, batch: WriteBatch) -> None:
        rows = batch.size()
        due = self._checkpointer.after_commit(rows + 1)
        if isinstance(due, asyncio.Future):
            await asyncio.wait([due])
            due = self._checkpointer.after_commit(0)
        checkpoint = due is True
        if checkpoint or self.fsync or rows > _INLINE_MAX_ROWS:
            # Large batches, fsync and the writer's checkpoints run on the writer thread
            # (sqlite releases the GIL there, so the event loop keeps serving while the disk
            # works), the whole transaction in one hop rather than one per statement as
            # aiosqlite would.
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._writer_thread, self._apply_sync, batch, True, checkpoint)
        else:
            # A small commit without fsync takes ~20 µs; the hop to a thread and back costs
            # ~100 µs more. Doing it here is what keeps one actor's sequential writes (an HTTP
            # action, a workflow step) cheap. Auto-checkpoints are off on this connection so a
            # checkpoint's fsync never lands on the event loop (see above).
            self._apply_sync(batch, False)

    def _apply_in_background(self, batch: WriteBatch) -> concurrent.futures.Future[None] | None:
        rows = batch.size()
        if self._checkpointer.would_wait(rows + 1):
            return None  # the writer task waits for the checkpoint, then commits
        checkpoint = self._checkpointer.after_commit(rows + 1) is True
        return self._writer_thread.submit(self._apply_sync, batch, True, checkpoint)

    def _apply_sync(self, batch: WriteBatch, bulk: bool, checkpoint: bool = False) -> None:
        """Apply ``batch`` in one transaction: with bulk statements on the writer thread (few
        GIL hand-backs, see ``_bulk``), one statement per row on the event loop."""
        db = self._write_conn
        if db is None:
            raise StorageError("storage is not open")
        rows = self._rows
        assert rows is not None
        rows.cursor.execute("BEGIN IMMEDIATE")
        try:
            if batch.destroyed:
                rows.write("destroy", [(actor_id,) for actor_id in batch.destroyed], bulk=bulk)
            if batch.created:
                rows.write(
                    "create",
                    [
                        (r.actor_id, r.name, r.key, r.input, r.created_at, r.state, r.alarm_at)
                        for r in batch.created.values()
                    ],
                    bulk=bulk,
                )
            if batch.states:
                rows.write("set_state", list(batch.states.items()), bulk=bulk)
            if batch.alarms:
                rows.write("set_alarm", list(batch.alarms.items()), bulk=bulk)
            if batch.enqueued:
                rows.write(
                    "enqueue",
                    [(r.actor_id, r.seq, r.name, r.body, r.created_at) for r in batch.enqueued.values()],
                    bulk=bulk,
                )
            if batch.dequeued:
                rows.write("dequeue", batch.dequeued, bulk=bulk)
            if batch.schedules:
                rows.write(
                    "put_schedule",
                    [
                        (r.actor_id, r.schedule_id, r.fire_at, r.action, r.args, r.created_at)
                        for r in batch.schedules.values()
                        if r is not None
                    ],
                    bulk=bulk,
                )
                rows.write("delete_schedule", [k for k, r in batch.schedules.items() if r is None], bulk=bulk)
            if batch.kv_ranges:
                rows.write("kv_delete_range", batch.kv_ranges, bulk=bulk)
            if batch.kv:
                rows.write(
                    "kv_put",
                    [(a, k, v) for a, space in batch.kv.items() for k, v in space.items() if v is not None],
                    bulk=bulk,
                )
                rows.write(
                    "kv_delete", [(a, k) for a, space in batch.kv.items() for k, v in space.items() if v is None], bulk=bulk
                )
            rows.cursor.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, Exception) and not isinstance(exc, StorageError):
                raise StorageError(f"commit failed: {exc}") from exc
            raise
        if checkpoint:
            # After the commit and outside its error handling: the batch has landed, and a
            # checkpoint that fails (it is retried with the next one) must not report otherwise.
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                _log.warning("WAL checkpoint failed (retried later): %s", exc)

    # -- reads -------------------------------------------------------------------------------

    async def load_actor(self, actor_id: str) -> ActorRecord | None:
        rows = list(await self.db.execute_fetchall(f"SELECT {_ACTOR_COLUMNS} FROM actors WHERE actor_id = ?", (actor_id,)))
        return _actor(rows[0]) if rows else None

    async def find_actor(self, name: str, key: str) -> ActorRecord | None:
        rows = list(
            await self.db.execute_fetchall(
                f"SELECT {_ACTOR_COLUMNS} FROM actors WHERE name = ? AND key = ?", (name, key)
            )
        )
        return _actor(rows[0]) if rows else None

    async def list_actors(self, name: str | None = None, limit: int = 1000) -> list[ActorRecord]:
        columns = "actor_id, name, key, input, created_at, NULL, alarm_at"
        if name is None:
            rows = await self.db.execute_fetchall(
                f"SELECT {columns} FROM actors ORDER BY created_at, actor_id LIMIT ?", (limit,)
            )
        else:
            rows = await self.db.execute_fetchall(
                f"SELECT {columns} FROM actors WHERE name = ? ORDER BY created_at, actor_id LIMIT ?", (name, limit)
            )
        return [_actor(row) for row in rows]

    async def load_queue(self, actor_id: str) -> list[QueueRow]:
        rows = await self.db.execute_fetchall(
            "SELECT actor_id, seq, name, body, created_at FROM queue WHERE actor_id = ? ORDER BY seq", (actor_id,)
        )
        return [QueueRow(*row) for row in rows]

    async def load_schedules(self, actor_id: str) -> list[ScheduleRow]:
        rows = await self.db.execute_fetchall(
            "SELECT actor_id, schedule_id, fire_at, action, args, created_at FROM schedules "
            "WHERE actor_id = ? ORDER BY fire_at, schedule_id",
            (actor_id,),
        )
        return [ScheduleRow(*row) for row in rows]

    async def load_kv(self, actor_id: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        if prefix:
            end = _prefix_end(prefix)
            if end is None:
                rows = await self.db.execute_fetchall(
                    "SELECT key, value FROM kv WHERE actor_id = ? AND key >= ? ORDER BY key", (actor_id, prefix)
                )
            else:
                rows = await self.db.execute_fetchall(
                    "SELECT key, value FROM kv WHERE actor_id = ? AND key >= ? AND key < ? ORDER BY key",
                    (actor_id, prefix, end),
                )
        else:
            rows = await self.db.execute_fetchall(
                "SELECT key, value FROM kv WHERE actor_id = ? ORDER BY key", (actor_id,)
            )
        return [(bytes(k), bytes(v)) for k, v in rows]

    async def load_alarms(self) -> list[tuple[str, float]]:
        rows = await self.db.execute_fetchall(
            "SELECT actor_id, alarm_at FROM actors WHERE alarm_at IS NOT NULL ORDER BY alarm_at"
        )
        return [(actor_id, alarm_at) for actor_id, alarm_at in rows]


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (``None``: unbounded)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
