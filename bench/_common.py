"""Shared benchmark helpers: JSON-line output, percentiles, memory, and the raw-SQLite ceiling.

Every benchmark prints one JSON object per line on stdout::

    {"metric": "...", "value": 123.4, "unit": "...", ...context...}

Progress and diagnostics go to stderr, so stdout stays machine-readable.

The ceiling follows ``../shared/peers/limits/sqlite_limit.py``: the same 200-byte row into a
fresh WAL file, measured in the same run as the benchmark it is compared with (disks and
machines differ too much for a remembered number to mean anything).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LOOPS",
    "Ceiling",
    "emit",
    "log",
    "measure_ceiling",
    "percentile",
    "percentiles",
    "rss_bytes",
    "run_on_loop",
]

PAYLOAD = b"x" * 200  # about the size of a small serialized state / message

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS steps ("
    " id INTEGER PRIMARY KEY, wf TEXT NOT NULL, step INTEGER NOT NULL,"
    " output BLOB, UNIQUE(wf, step))"
)
INSERT = "INSERT INTO steps (wf, step, output) VALUES (?, ?, ?)"


# ------------------------------------------------------------------------------- output


def _round(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 4) if abs(value) < 100 else round(value, 1)
    return value


def emit(metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    """Print one JSON line ``{"metric", "value", "unit", **extra}`` and return it."""
    record: dict[str, Any] = {"metric": metric, "value": _round(value), "unit": unit}
    for k, v in extra.items():
        record[k] = _round(v)
    print(json.dumps(record), flush=True)
    return record


#: ``--loop`` choices. ``auto`` is what ``rivet-dsl serve`` runs on: uvicorn's ``auto`` loop,
#: uvloop where it is installed (``uvicorn[standard]`` installs it on Linux and macOS).
LOOPS = ("auto", "uvloop", "asyncio")


def run_on_loop(main: Callable[[], Coroutine[Any, Any, Any]], loop: str = "auto") -> Any:
    """Run ``main()`` to completion on the event loop ``loop`` (see :data:`LOOPS`); the loop
    used is emitted as ``bench.event_loop`` first, so every figure says what it ran on."""
    name = loop
    if loop in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise
            name = "asyncio"
        else:
            name = "uvloop"
    emit("bench.event_loop", 0, "-", loop=name, requested=loop)
    if name == "uvloop":
        return uvloop.run(main())
    return asyncio.run(main())


def log(*parts: Any) -> None:
    """Progress output (stderr, never mixed into the JSON lines)."""
    print("#", *parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- statistics


def percentile(sorted_samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of already-sorted samples, linear interpolation."""
    if not sorted_samples:
        return float("nan")
    if len(sorted_samples) == 1:
        return float(sorted_samples[0])
    rank = (p / 100.0) * (len(sorted_samples) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(sorted_samples) - 1)
    frac = rank - lo
    return float(sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * frac)


def percentiles(samples: Sequence[float], ps: Sequence[float] = (50, 90, 99)) -> dict[str, float]:
    """``{"p50": ..., "p99": ..., "mean": ..., "max": ...}`` of ``samples``."""
    ordered = sorted(samples)
    out = {f"p{p:g}": percentile(ordered, p) for p in ps}
    out["mean"] = statistics.fmean(ordered) if ordered else float("nan")
    out["max"] = float(ordered[-1]) if ordered else float("nan")
    return out


# ------------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """Resident set size of this process (``/proc/self/statm``; psutil if that is missing)."""
    try:
        with open("/proc/self/statm") as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - non-Linux
        import psutil  # type: ignore[import-untyped]

        return int(psutil.Process().memory_info().rss)


# ------------------------------------------------------------------------------- ceiling


def fresh_path(directory: str, label: str) -> str:
    path = os.path.join(directory, f"ceiling_{label}.sqlite")
    remove_db(path)
    return path


def remove_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def _connect(path: str, sync: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={sync}")
    con.execute(SCHEMA)
    return con


def sqlite3_single(path: str, sync: str, n: int) -> float:
    """Seconds for ``n`` single-row transactions (one COMMIT each), stdlib sqlite3."""
    con = _connect(path, sync)
    t0 = time.perf_counter()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute(INSERT, ("wf-1", i, PAYLOAD))
        con.execute("COMMIT")
    dt = time.perf_counter() - t0
    (count,) = con.execute("SELECT count(*) FROM steps").fetchone()
    assert count == n, count
    con.close()
    return dt


def sqlite3_batched(path: str, sync: str, n: int, per_tx: int) -> float:
    """Seconds for ``n`` rows, ``per_tx`` rows per transaction with one executemany each."""
    con = _connect(path, sync)
    t0 = time.perf_counter()
    for start in range(0, n, per_tx):
        con.execute("BEGIN IMMEDIATE")
        con.executemany(INSERT, [("wf-1", j, PAYLOAD) for j in range(start, min(start + per_tx, n))])
        con.execute("COMMIT")
    dt = time.perf_counter() - t0
    (count,) = con.execute("SELECT count(*) FROM steps").fetchone()
    assert count == n, count
    con.close()
    return dt


async def aiosqlite_single(path: str, sync: str, n: int) -> float:
    """Seconds for ``n`` single-row transactions through aiosqlite (3 thread hops per commit)."""
    import aiosqlite

    async with aiosqlite.connect(path, isolation_level=None) as con:
        await con.execute("PRAGMA journal_mode=WAL")
        await con.execute(f"PRAGMA synchronous={sync}")
        await con.execute(SCHEMA)
        t0 = time.perf_counter()
        for i in range(n):
            await con.execute("BEGIN IMMEDIATE")
            await con.execute(INSERT, ("wf-1", i, PAYLOAD))
            await con.execute("COMMIT")
        dt = time.perf_counter() - t0
        async with con.execute("SELECT count(*) FROM steps") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == n, row
    return dt


async def aiosqlite_point_read(path: str, n: int) -> list[float]:
    """Latencies (s) of ``n`` primary-key SELECTs through aiosqlite: the I/O floor of a wake."""
    import aiosqlite

    async with aiosqlite.connect(path, isolation_level=None) as con:
        samples: list[float] = []
        for i in range(n):
            t0 = time.perf_counter()
            rows = await con.execute_fetchall("SELECT output FROM steps WHERE wf = ? AND step = ?", ("wf-1", i))
            samples.append(time.perf_counter() - t0)
            assert rows
    return samples


async def asyncio_group_commit(path: str, sync: str, n: int, producers: int) -> tuple[float, float]:
    """``producers`` tasks each awaiting one durable row at a time; one writer thread commits
    whatever is queued as a single transaction. Returns (seconds, mean rows per commit)."""
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop = asyncio.get_running_loop()
    con = await loop.run_in_executor(ex, lambda: _connect(path, sync, check_same_thread=False))
    pending: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
    wake = asyncio.Event()
    batches: list[int] = []
    done = False

    def commit(rows: list[tuple[Any, ...]]) -> None:
        con.execute("BEGIN IMMEDIATE")
        con.executemany(INSERT, rows)
        con.execute("COMMIT")

    async def writer() -> None:
        while not done or pending:
            if not pending:
                wake.clear()
                await wake.wait()
                continue
            batch = pending[:]
            del pending[:]
            await loop.run_in_executor(ex, commit, [r for r, _ in batch])
            batches.append(len(batch))
            for _, fut in batch:
                fut.set_result(None)

    per = n // producers

    async def producer(pid: int) -> None:
        for i in range(per):
            fut = loop.create_future()
            pending.append((("wf-%d" % pid, i, PAYLOAD), fut))
            wake.set()
            await fut

    w = asyncio.create_task(writer())
    t0 = time.perf_counter()
    await asyncio.gather(*(producer(p) for p in range(producers)))
    dt = time.perf_counter() - t0
    done = True
    wake.set()
    await w
    await loop.run_in_executor(ex, con.close)
    ex.shutdown()
    return dt, (sum(batches) / len(batches) if batches else 0.0)


@dataclass
class Ceiling:
    """Raw SQLite figures measured in this run (everything else is reported as a ratio to them)."""

    single_commits_per_s: float  # stdlib sqlite3, WAL NORMAL, 1 row per COMMIT
    batched_rows_per_s: float  # stdlib sqlite3, WAL NORMAL, 100 rows per COMMIT (executemany)
    aiosqlite_commits_per_s: float  # aiosqlite, WAL NORMAL, 1 row per COMMIT
    group_commit_rows_per_s: float  # asyncio tasks + one writer thread, WAL NORMAL
    full_single_commits_per_s: float  # stdlib sqlite3, WAL FULL (fsync), 1 row per COMMIT
    full_group_commit_rows_per_s: float  # asyncio group commit, WAL FULL
    aiosqlite_read_p50_s: float  # one primary-key SELECT through aiosqlite

    @property
    def single_commit_s(self) -> float:
        return 1.0 / self.single_commits_per_s

    def ratios(self, ops_per_s: float, *, fsync: bool = False) -> dict[str, float | str]:
        """Context fields for a durable-writes/s metric."""
        if fsync:
            return {
                "ratio_to_ceiling": ops_per_s / self.full_single_commits_per_s,
                "ceiling": "sqlite3.wal_full.single_commits_per_s",
                "ratio_to_group_commit_ceiling": ops_per_s / self.full_group_commit_rows_per_s,
            }
        return {
            "ratio_to_ceiling": ops_per_s / self.single_commits_per_s,
            "ceiling": "sqlite3.wal_normal.single_commits_per_s",
            "ratio_to_batched_ceiling": ops_per_s / self.batched_rows_per_s,
            "ratio_to_group_commit_ceiling": ops_per_s / self.group_commit_rows_per_s,
        }


async def measure_ceiling(directory: str, n: int, *, batch: int = 100, producers: int = 32, repeat: int = 3,
                          prefix: str = "ceiling") -> Ceiling:
    """Measure and emit the raw-SQLite ceilings (median of ``repeat`` runs each).

    A coroutine so that it can run inside the benchmark's event loop (the aiosqlite and group
    commit figures then share the loop setup the runtime uses)."""

    def med(fn: Any) -> float:
        return float(statistics.median(fn() for _ in range(repeat)))

    async def amed(fn: Any) -> float:
        return float(statistics.median([await fn() for _ in range(repeat)]))

    emit(f"{prefix}.env", 0, "-", sqlite_version=sqlite3.sqlite_version, python=platform.python_version(),
         cpus=os.cpu_count(), dir=os.path.abspath(directory))

    dt = med(lambda: sqlite3_single(fresh_path(directory, "single"), "NORMAL", n))
    single = n / dt
    emit(f"{prefix}.sqlite3.wal_normal.single_commits_per_s", single, "commits/s", n=n,
         us_per_commit=dt / n * 1e6, ratio_to_ceiling=1.0)

    n_batched = max(n * 5, batch * 10)
    dt = med(lambda: sqlite3_batched(fresh_path(directory, "batched"), "NORMAL", n_batched, batch))
    batched = n_batched / dt
    emit(f"{prefix}.sqlite3.wal_normal.batched{batch}_rows_per_s", batched, "rows/s", n=n_batched,
         rows_per_tx=batch, ratio_to_ceiling=batched / single)

    dt = await amed(lambda: aiosqlite_single(fresh_path(directory, "aio"), "NORMAL", n))
    aio = n / dt
    emit(f"{prefix}.aiosqlite.wal_normal.single_commits_per_s", aio, "commits/s", n=n,
         us_per_commit=dt / n * 1e6, ratio_to_ceiling=aio / single)

    path = fresh_path(directory, "aio")  # reuse for the point reads: a table of n_batched rows
    sqlite3_batched(path, "NORMAL", n, batch)
    reads = sorted(await aiosqlite_point_read(path, min(n, 2000)))
    read_p50 = percentile(reads, 50)
    emit(f"{prefix}.aiosqlite.point_read_p50", read_p50 * 1e6, "us", p99_us=percentile(reads, 99) * 1e6,
         n=len(reads), ratio_to_ceiling=read_p50 / (1.0 / single))

    n_gc = max(n * 4, producers * 10)
    results = [await asyncio_group_commit(fresh_path(directory, "gc"), "NORMAL", n_gc, producers)
               for _ in range(repeat)]
    dt = statistics.median(r[0] for r in results)
    group = (n_gc // producers * producers) / dt
    emit(f"{prefix}.asyncio_groupcommit{producers}.wal_normal.rows_per_s", group, "rows/s", n=n_gc,
         producers=producers, mean_batch=statistics.median(r[1] for r in results), ratio_to_ceiling=group / single)

    n_full = max(n // 2, 100)
    dt = med(lambda: sqlite3_single(fresh_path(directory, "full"), "FULL", n_full))
    full = n_full / dt
    emit(f"{prefix}.sqlite3.wal_full.single_commits_per_s", full, "commits/s", n=n_full,
         us_per_commit=dt / n_full * 1e6, ratio_to_ceiling=full / single)

    results = [await asyncio_group_commit(fresh_path(directory, "gcfull"), "FULL", n_gc, producers)
               for _ in range(repeat)]
    dt = statistics.median(r[0] for r in results)
    full_group = (n_gc // producers * producers) / dt
    emit(f"{prefix}.asyncio_groupcommit{producers}.wal_full.rows_per_s", full_group, "rows/s", n=n_gc,
         producers=producers, mean_batch=statistics.median(r[1] for r in results),
         ratio_to_ceiling=full_group / full)

    for label in ("single", "batched", "aio", "gc", "full", "gcfull"):
        remove_db(os.path.join(directory, f"ceiling_{label}.sqlite"))
    return Ceiling(single, batched, aio, group, full, full_group, read_p50)
