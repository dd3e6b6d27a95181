"""WAL checkpoints for the SQLite store, run beside the commits instead of between them.

A checkpoint copies the pages the WAL holds back into the database file. Run by the writer
after a commit (as SQLite's auto-checkpoint does), it stalls the next commit for as long as
the copy takes: ~20 ms per 8,000 pages here, which a workflow actor, whose every step waits
for its commit, pays in full. So the copy runs on a connection and thread of its own while
commits go on. SQLite only restarts the WAL from its beginning when a writer finds every
frame copied, which never happens while commits keep arriving during the copy; so once a
background run has finished, the writer finishes the job with its next commit, copying only
the frames written meanwhile (and the WAL restarts at the following transaction). The WAL
thus stays bounded at about ``every_pages`` pages plus what arrives during one copy, and at
twice that in any case (a commit waits for a copy that falls that far behind).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

__all__ = ["Checkpointer"]

_log = logging.getLogger("rivet_dsl.storage")


class Checkpointer:
    """Decides when checkpoints run, and runs the background ones (see the module docstring).

    Args:
        path: the database file.
        synchronous: the ``PRAGMA synchronous`` level of the store (a checkpoint syncs as the
            writer does).
        every_pages: WAL pages (estimated by the caller) between checkpoints.
    """

    def __init__(self, path: str, synchronous: str, every_pages: int) -> None:
        self.path = path
        self.synchronous = synchronous
        self.every_pages = every_pages
        self._pages = 0
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rivet-sqlite-checkpoint")
        self._running: asyncio.Future[None] | None = None
        self._copied = False
        #: Background runs completed and writer runs asked for, for tests and benchmarks.
        self.background_runs = 0
        self.writer_runs = 0

    async def open(self) -> None:
        self._conn = await asyncio.get_running_loop().run_in_executor(self._thread, self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.wait([self._running])
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
        self._thread.shutdown(wait=True)

    def would_wait(self, pages: int) -> bool:
        """Whether :meth:`after_commit` with ``pages`` would make the commit wait."""
        return self._running is not None and self._pages + pages >= 2 * self.every_pages

    def after_commit(self, pages: int) -> bool | asyncio.Future[None]:
        """Count a transaction's WAL pages. True when the writer must checkpoint with this
        commit (a background run has copied the bulk); may start a background run. A future
        when a background run is still copying and the WAL is twice as long as it should be:
        the commit waits for it (then calls again with 0 pages)."""
        self._pages += pages
        if self._pages < self.every_pages:
            return False
        if self._running is not None:
            return self._running if self._pages >= 2 * self.every_pages else False
        if self._copied or self._conn is None:
            self._copied = False
            self._pages = 0
            self.writer_runs += 1
            return True
        self._running = asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)
        self._running.add_done_callback(self._finished)
        return False

    def _checkpoint(self) -> None:
        assert self._conn is not None
        # fetchall: a statement left open would keep a read snapshot and pin the WAL.
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _finished(self, future: asyncio.Future[None]) -> None:
        self._running = None
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            _log.warning("background WAL checkpoint failed (the writer will checkpoint): %s", exc)
        else:
            self.background_runs += 1
        self._copied = True
