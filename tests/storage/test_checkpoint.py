"""The SQLite store's WAL checkpoints: copied in the background, finished by the writer."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from rivet_dsl.storage._checkpoint import Checkpointer


def _wal_with_frames(path: Path, commits: int) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    for i in range(commits):
        db.execute("INSERT INTO t VALUES (?, ?)", (i, b"x" * 3000))
    return db


async def test_background_run_then_writer_finishes(tmp_path: Path) -> None:
    db = _wal_with_frames(tmp_path / "x.db", 50)
    # The 50 rows (a page each) are only in the WAL so far: the database file holds none.
    assert (tmp_path / "x.db").stat().st_size < 10 * 4096
    checkpointer = Checkpointer(str(tmp_path / "x.db"), "NORMAL", every_pages=10)
    await checkpointer.open()
    try:
        assert checkpointer.after_commit(4) is False  # below the interval: nothing
        assert checkpointer.after_commit(6) is False  # due: a background run starts
        running = checkpointer._running
        assert running is not None
        await asyncio.wait([running])  # its done-callback ran first (registered first)
        assert checkpointer.background_runs == 1
        # The background connection copied the pages into the database file.
        assert (tmp_path / "x.db").stat().st_size >= 50 * 4096
        # The next commit is told to finish the checkpoint itself, and the count restarts.
        assert checkpointer.after_commit(1) is True
        assert checkpointer.writer_runs == 1
        assert checkpointer.after_commit(1) is False
    finally:
        await checkpointer.close()
        db.close()


async def test_a_commit_waits_for_a_run_that_falls_twice_behind(tmp_path: Path) -> None:
    _wal_with_frames(tmp_path / "x.db", 50).close()
    checkpointer = Checkpointer(str(tmp_path / "x.db"), "NORMAL", every_pages=10)
    await checkpointer.open()
    try:
        assert checkpointer.after_commit(10) is False  # starts a run
        # Still running (its completion needs this loop) while another 5 pages arrive: fine.
        assert checkpointer.after_commit(5) is False
        # Twice the interval: the caller gets the run to wait for, then must finish it.
        due = checkpointer.after_commit(5)
        assert isinstance(due, asyncio.Future)
        await asyncio.wait([due])
        assert checkpointer.after_commit(0) is True
    finally:
        await checkpointer.close()
