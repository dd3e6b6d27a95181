"""Foundation benchmarks for the actor runtime on SQLite; prints JSON lines.

    python bench/bench_runtime.py            # full run (~2-3 min on 2 cores)
    python bench/bench_runtime.py --quick    # smoke run (~20 s); also RIVET_BENCH_QUICK=1
    python bench/bench_runtime.py --only writes,latency --ops 50000

Measured (each against the raw-SQLite ceiling measured at the start of the same run):

* acknowledged durable writes/s, state-mutating actions and queue sends, for 1 actor sequential,
  1 actor x 16 concurrent callers, and 1,000 actors x 16 concurrent callers (16,000 tasks),
  plus the 1,000 x 16 actions with ``fsync=True`` (``synchronous=FULL``). Every run uses a fixed
  op count; afterwards the runtime is *crashed* (no final save) and the database file is
  re-opened with plain ``sqlite3``: the durable state must equal the acknowledged ops, or the
  run is reported invalid (and the script exits non-zero);
* action latency p50/p99 in-process (sequential; mutating and read-only), and once through
  ``Client(InProcessTransport(runtime))`` to show the client's overhead;
* memory per awake idle actor (RSS delta over 100,000 actors; tracemalloc for comparison);
* wake-from-sleep latency p50/p99 (first action on an actor put to sleep with ``sleep_live``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    LOOPS,
    Ceiling,
    emit,
    log,
    measure_ceiling,
    percentiles,
    remove_db,
    rss_bytes,
    run_on_loop,
)

from rivet_dsl import Actor, action, queue, setup  # noqa: E402
from rivet_dsl.client import Client  # noqa: E402
from rivet_dsl.runtime import Runtime  # noqa: E402
from rivet_dsl.runtime._transport import InProcessTransport  # noqa: E402
from rivet_dsl.storage import SqliteStorage  # noqa: E402

# ------------------------------------------------------------------------------- actors


class CounterState(msgspec.Struct):
    count: int = 0


class Job(msgspec.Struct):
    n: int


class BenchCounter(Actor[CounterState], name="counter", sleep_timeout=86400.0):
    @action
    def increment(self, amount: int) -> int:
        self.state.count += amount
        return self.state.count

    @action
    def get_count(self) -> int:
        return self.state.count


class BenchInbox(Actor[CounterState], name="inbox", sleep_timeout=86400.0, max_queue_size=10**7):
    """A queue and no run handler: messages accumulate durably."""

    @queue
    def jobs(self, body: Job) -> None: ...

    @action
    def ping(self) -> int:
        return 0


registry = setup(BenchCounter, BenchInbox)


class GcTimer:
    """Time spent in the cyclic garbage collector while active (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


# ------------------------------------------------------------------------------- plumbing


class Ctx:
    def __init__(self, args: argparse.Namespace, directory: str, ceiling: Ceiling) -> None:
        self.args = args
        self.dir = directory
        self.ceiling = ceiling
        self._n = 0
        self.invalid: list[str] = []

    def db_path(self, label: str) -> str:
        self._n += 1
        path = os.path.join(self.dir, f"rt_{self._n:02d}_{label}.sqlite")
        remove_db(path)
        return path


async def start_runtime(path: str, *, fsync: bool = False) -> Runtime:
    runtime = Runtime(registry, storage=SqliteStorage(path, fsync=fsync))
    await runtime.start()
    return runtime


async def create_actors(
    runtime: Runtime, name: str, n: int, *, prefix: str = "k", chunk: int = 2000, keep: bool = True
) -> list[str]:
    """``n`` actors via ``get_or_create``, ``chunk`` at a time (creations share commits).

    Returns their ids (none with ``keep=False``, so memory figures count the runtime only)."""
    ids: list[str] = []
    for start in range(0, n, chunk):
        infos = await asyncio.gather(
            *(runtime.get_or_create(name, [f"{prefix}{i}"]) for i in range(start, min(start + chunk, n)))
        )
        if keep:
            ids.extend(info.actor_id for info in infos)
    return ids


def durable_counts(path: str) -> dict[str, int]:
    """Re-open the file with plain sqlite3: each counter's committed ``count``."""
    decoder = msgspec.msgpack.Decoder(CounterState)
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT actor_id, state FROM actors WHERE name = 'counter'").fetchall()
    finally:
        con.close()
    return {actor_id: decoder.decode(state).count for actor_id, state in rows}


def durable_queue_rows(path: str) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT actor_id, count(*) FROM queue GROUP BY actor_id").fetchall()
    finally:
        con.close()
    return dict(rows)


# ------------------------------------------------------------------------------- writes


async def write_run(
    ctx: Ctx, kind: str, n_actors: int, callers: int, total_ops: int, *, fsync: bool = False, label: str
) -> dict[str, Any]:
    """``n_actors`` x ``callers`` tasks, each looping acknowledged writes on its actor.

    ``kind`` is ``"action"`` (``increment(1)``) or ``"queue"`` (``send("jobs", ...)``).
    """
    path = ctx.db_path(label)
    runtime = await start_runtime(path, fsync=fsync)
    name = "counter" if kind == "action" else "inbox"
    ids = await create_actors(runtime, name, n_actors)
    tasks_total = n_actors * callers
    per_task = max(1, total_ops // tasks_total)
    total = per_task * tasks_total
    acked = dict.fromkeys(ids, 0)
    commits0, rows0 = runtime.storage.commits, runtime.storage.rows_written
    call = runtime.call
    send = runtime.send

    if kind == "action":

        async def worker(actor_id: str) -> None:
            for _ in range(per_task):
                await call(actor_id, "increment", [1])
                acked[actor_id] += 1

    else:

        async def worker(actor_id: str) -> None:
            for i in range(per_task):
                await send(actor_id, "jobs", {"n": i})
                acked[actor_id] += 1

    gc.collect()
    profiler = None
    if ctx.args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with GcTimer() as gct:
        t0 = time.perf_counter()
        if tasks_total == 1:
            await worker(ids[0])
        else:
            await asyncio.gather(*(worker(actor_id) for actor_id in ids for _ in range(callers)))
        dt = time.perf_counter() - t0
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        log(f"profile of {label} (cProfile, by tottime; timings inflated by profiling):\n{out.getvalue()}")
    commits = runtime.storage.commits - commits0
    rows = runtime.storage.rows_written - rows0
    # A crash, not a graceful stop: no final save may paper over an unacknowledged write.
    await runtime.crash()
    durable = durable_counts(path) if kind == "action" else durable_queue_rows(path)
    lost = sum(max(0, acked[a] - durable.get(a, 0)) for a in ids)
    extra = sum(max(0, durable.get(a, 0) - acked[a]) for a in ids)
    valid = lost == 0 and extra == 0 and sum(acked.values()) == total
    if not valid:
        ctx.invalid.append(label)
    ops_per_s = total / dt
    metric = f"runtime.{label}.durable_writes_per_s"
    emit(
        metric,
        ops_per_s if valid else 0.0,
        "ops/s",
        n=total,
        actors=n_actors,
        callers_per_actor=callers,
        tasks=tasks_total,
        seconds=dt,
        fsync=fsync,
        commits=commits,
        rows_written=rows,
        mean_batch=rows / commits if commits else 0.0,
        ops_per_commit=total / commits if commits else 0.0,
        gc_seconds=gct.seconds,
        gc_share=gct.seconds / dt,
        gc_collections=gct.collections,
        profiled=bool(ctx.args.profile),
        verified=valid,
        lost=lost,
        extra=extra,
        **({"measured_ops_per_s": ops_per_s, "error": "durable state != acknowledged ops"} if not valid else {}),
        **({"target": 20000, "ratio_to_target": ops_per_s / 20000} if n_actors >= 1000 else {}),
        **ctx.ceiling.ratios(ops_per_s, fsync=fsync),
    )
    remove_db(path)
    return {"ops_per_s": ops_per_s, "valid": valid}


async def bench_writes(ctx: Ctx) -> None:
    a = ctx.args
    for kind in ("action", "queue"):
        await write_run(ctx, kind, 1, 1, a.seq_ops, label=f"{kind}.1actor_sequential")
        await write_run(ctx, kind, 1, 16, a.ops, label=f"{kind}.1actor_x16")
        await write_run(ctx, kind, a.actors, 16, a.many_ops, label=f"{kind}.{a.actors}actors_x16")
    await write_run(ctx, "action", a.actors, 16, a.fsync_ops, fsync=True, label=f"action.{a.actors}actors_x16_fsync")
    if a.fsync_queue:
        await write_run(ctx, "queue", a.actors, 16, a.fsync_ops, fsync=True, label=f"queue.{a.actors}actors_x16_fsync")


# ------------------------------------------------------------------------------- latency


async def timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    samples = []
    pc = time.perf_counter
    for _ in range(n):
        t0 = pc()
        await fn()
        samples.append(pc() - t0)
    return samples


def emit_latency(ctx: Ctx, metric: str, samples: list[float], **extra: Any) -> dict[str, float]:
    stats = percentiles(samples, (50, 90, 99))
    commit_us = ctx.ceiling.single_commit_s * 1e6
    emit(
        metric,
        stats["p50"] * 1e6,
        "us",
        p50_us=stats["p50"] * 1e6,
        p90_us=stats["p90"] * 1e6,
        p99_us=stats["p99"] * 1e6,
        mean_us=stats["mean"] * 1e6,
        max_us=stats["max"] * 1e6,
        n=len(samples),
        ratio_to_ceiling=stats["p50"] * 1e6 / commit_us,
        ceiling="sqlite3.wal_normal single-row commit latency (us)",
        ceiling_us=commit_us,
        **extra,
    )
    return stats


async def bench_latency(ctx: Ctx) -> None:
    n = ctx.args.latency_n
    path = ctx.db_path("latency")
    runtime = await start_runtime(path)
    info = await runtime.get_or_create("counter", ["lat"])
    aid = info.actor_id
    await timed(200, lambda: runtime.call(aid, "increment", [1]))  # warm-up
    mutating = await timed(n, lambda: runtime.call(aid, "increment", [1]))
    reading = await timed(n, lambda: runtime.call(aid, "get_count", []))
    m = emit_latency(ctx, "runtime.action_latency.mutating", mutating, via="runtime.call")
    r = emit_latency(ctx, "runtime.action_latency.readonly", reading, via="runtime.call")

    client = Client(InProcessTransport(runtime))
    by_key = client.get_or_create("counter", ["lat"])
    by_id = client.get_for_id("counter", aid)
    await timed(200, lambda: by_key.action("increment", 1))
    c_mut = await timed(n, lambda: by_key.action("increment", 1))
    c_read = await timed(n, lambda: by_key.action("get_count"))
    c_id_read = await timed(n, lambda: by_id.action("get_count"))
    cm = emit_latency(ctx, "client.action_latency.mutating", c_mut, via="Client(get_or_create handle)",
                      overhead_us_p50=(percentiles(c_mut)["p50"] - m["p50"]) * 1e6)
    cr = emit_latency(ctx, "client.action_latency.readonly", c_read, via="Client(get_or_create handle)",
                      overhead_us_p50=(percentiles(c_read)["p50"] - r["p50"]) * 1e6)
    emit_latency(ctx, "client.action_latency.readonly_by_id", c_id_read, via="Client(get_for_id handle)",
                 overhead_us_p50=(percentiles(c_id_read)["p50"] - r["p50"]) * 1e6)
    emit("client.overhead_ratio.mutating", cm["p50"] / m["p50"], "x", n=n)
    emit("client.overhead_ratio.readonly", cr["p50"] / r["p50"], "x", n=n)

    # The same sequential mutating loop, as throughput: runtime vs client.
    k = min(n, 5000)
    t0 = time.perf_counter()
    for _ in range(k):
        await by_key.action("increment", 1)
    dt_client = time.perf_counter() - t0
    emit("client.1actor_sequential.durable_writes_per_s", k / dt_client, "ops/s", n=k,
         runtime_ops_per_s=1 / m["mean"], **ctx.ceiling.ratios(k / dt_client))

    expected = 200 + n + 200 + n + k + 0
    await runtime.crash()
    durable = durable_counts(path)[aid]
    if durable != expected:
        ctx.invalid.append("latency")
        emit("runtime.action_latency.verify", 0, "-", error="durable state != acknowledged ops",
             durable=durable, expected=expected)
    remove_db(path)


# ------------------------------------------------------------------------------- memory


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def bench_memory(ctx: Ctx) -> None:
    """RSS is only meaningful in a fresh process: earlier sections leave freed arenas behind that
    new actors would reuse. So unless ``--memory-inline``, run this section in a child."""
    a = ctx.args
    if a.memory_child or a.memory_inline:
        await _bench_memory(ctx)
        return
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", "--loop", a.loop, "--only", "memory",
           "--dir", ctx.dir, "--mem-actors", str(a.mem_actors), "--trace-actors", str(a.trace_actors)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    async for line in proc.stdout:
        sys.stdout.write(line.decode())
        sys.stdout.flush()
    rc = await proc.wait()
    if rc != 0:
        ctx.invalid.append("memory")
        emit("runtime.memory_per_idle_actor.error", 0, "-", error=f"memory child exited with {rc}")


async def _bench_memory(ctx: Ctx) -> None:
    n = ctx.args.mem_actors
    path = ctx.db_path("memory")
    runtime = await start_runtime(path)
    # Warm every code path (codec caches, the idle tracker's dict, aiosqlite's thread) first.
    await create_actors(runtime, "counter", 500, prefix="warm")
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    await create_actors(runtime, "counter", n, prefix="m", keep=False)
    dt = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_bytes()
    live = runtime.live_count()
    per_actor = (rss1 - rss0) / n
    emit("runtime.memory_per_idle_actor.rss", per_actor, "bytes/actor", actors=n, live=live,
         rss_before_mb=rss0 / 2**20, rss_after_mb=rss1 / 2**20, target=2048, ratio_to_target=per_actor / 2048,
         create_seconds=dt, creates_per_s=n / dt, fresh_process=ctx.args.memory_child,
         note="no SQLite ceiling applies; ratio is to the 2 KB target")
    await runtime.stop()
    remove_db(path)

    # tracemalloc on a separate, smaller population (tracing is slow).
    m = ctx.args.trace_actors
    path = ctx.db_path("memory_trace")
    runtime = await start_runtime(path)
    await create_actors(runtime, "counter", 500, prefix="warm")
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    await create_actors(runtime, "counter", m, prefix="t", keep=False)
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    top = snapshot.statistics("lineno")[:8]
    per = (after - base) / m
    emit("runtime.memory_per_idle_actor.tracemalloc", per, "bytes/actor", actors=m, target=2048,
         ratio_to_target=per / 2048,
         top_sites=[f"{_short(s.traceback[0].filename)}:{s.traceback[0].lineno} {s.size // m}B/actor" for s in top])
    await runtime.stop()
    remove_db(path)


# ------------------------------------------------------------------------------- wake


async def bench_wake(ctx: Ctx) -> None:
    n = ctx.args.wake_n
    path = ctx.db_path("wake")
    runtime = await start_runtime(path)
    ids = await create_actors(runtime, "counter", n, prefix="w")
    for aid in ids[: n // 2]:  # half of them carry some state, to make loading real
        await runtime.call(aid, "increment", [1])

    async def sleep_all() -> None:
        actors = [await runtime.acquire(aid) for aid in ids]
        await asyncio.gather(*(runtime.sleep_live(actor) for actor in actors))

    await sleep_all()
    assert runtime.live_count() == 0, runtime.live_count()
    wakes0 = runtime.wakes
    gc.collect()
    pc = time.perf_counter
    samples: list[float] = []
    for aid in ids:
        t0 = pc()
        await runtime.call(aid, "get_count", [])
        samples.append(pc() - t0)
    woke = runtime.wakes - wakes0
    stats = percentiles(samples, (50, 90, 99))
    p50_us = stats["p50"] * 1e6
    emit("runtime.wake_latency", p50_us, "us", p50_us=p50_us, p90_us=stats["p90"] * 1e6,
         p99_us=stats["p99"] * 1e6, max_us=stats["max"] * 1e6, n=n, wakes=woke, action="get_count (read-only)",
         target_us=1000, ratio_to_target=p50_us / 1000,
         ratio_to_ceiling=stats["p50"] / ctx.ceiling.aiosqlite_read_p50_s,
         ceiling="aiosqlite primary-key SELECT p50 (one storage read)",
         ceiling_us=ctx.ceiling.aiosqlite_read_p50_s * 1e6)
    if woke != n:
        ctx.invalid.append("wake")
        emit("runtime.wake_latency.verify", 0, "-", error="not every call woke its actor", wakes=woke, n=n)

    # Wake + a state-mutating first action (load, then commit).
    await sleep_all()
    samples = []
    for aid in ids:
        t0 = pc()
        await runtime.call(aid, "increment", [1])
        samples.append(pc() - t0)
    stats = percentiles(samples, (50, 90, 99))
    emit("runtime.wake_latency.mutating", stats["p50"] * 1e6, "us", p50_us=stats["p50"] * 1e6,
         p99_us=stats["p99"] * 1e6, n=n, action="increment (commit included)", target_us=1000,
         ratio_to_target=stats["p50"] * 1e6 / 1000,
         ratio_to_ceiling=stats["p50"] / ctx.ceiling.single_commit_s,
         ceiling="sqlite3.wal_normal single-row commit latency")
    await runtime.crash()
    durable = durable_counts(path)
    expect = {aid: (2 if i < n // 2 else 1) for i, aid in enumerate(ids)}
    if durable != expect:
        ctx.invalid.append("wake.mutating")
        emit("runtime.wake_latency.verify", 0, "-", error="durable state != acknowledged ops")
    remove_db(path)


# ------------------------------------------------------------------------------- main

SECTIONS: dict[str, Callable[[Ctx], Awaitable[None]]] = {
    "writes": bench_writes,
    "latency": bench_latency,
    "memory": bench_memory,
    "wake": bench_wake,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--loop", choices=LOOPS, default="auto", help="event loop (auto: what rivet-dsl serve uses)")
    ap.add_argument("--quick", action="store_true", default=os.environ.get("RIVET_BENCH_QUICK") == "1",
                    help="smoke-test sizes (~20 s); also RIVET_BENCH_QUICK=1")
    ap.add_argument("--dir", default=None, help="directory for the database files (default: a temp dir)")
    ap.add_argument("--only", default="", help=f"comma-separated sections: {','.join(SECTIONS)}")
    ap.add_argument("--ceiling-n", type=int, default=None, help="rows for the single-commit ceilings")
    ap.add_argument("--seq-ops", type=int, default=None, help="ops for the 1-actor sequential runs")
    ap.add_argument("--ops", type=int, default=None, help="ops for the 1-actor x16 runs")
    ap.add_argument("--many-ops", type=int, default=None,
                    help="ops for the many-actor x16 runs (16,000 tasks: keep it >= 10 per task)")
    ap.add_argument("--fsync-ops", type=int, default=None, help="ops for the fsync=True 1000x16 run")
    ap.add_argument("--fsync-queue", action="store_true", help="also run queue sends with fsync=True")
    ap.add_argument("--actors", type=int, default=1000, help="actors in the many-actor runs")
    ap.add_argument("--latency-n", type=int, default=None, help="samples per latency metric")
    ap.add_argument("--mem-actors", type=int, default=None, help="awake actors for the RSS delta")
    ap.add_argument("--trace-actors", type=int, default=None, help="awake actors for tracemalloc")
    ap.add_argument("--wake-n", type=int, default=None, help="actors woken for the wake latency")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile each write run; top functions go to stderr (throughput figures drop)")
    ap.add_argument("--memory-inline", action="store_true",
                    help="measure memory in this process instead of a fresh child (RSS is then polluted)")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    defaults = {
        "ceiling_n": (3000, 10000),
        "seq_ops": (3000, 20000),
        "ops": (32000, 96000),
        "many_ops": (64000, 160000),
        "fsync_ops": (64000, 160000),
        "latency_n": (1000, 5000),
        "mem_actors": (20000, 100000),
        "trace_actors": (5000, 20000),
        "wake_n": (1000, 5000),
    }
    for key, (q, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, q if quick else full)
    return args


async def amain(args: argparse.Namespace, directory: str) -> int:
    t_start = time.perf_counter()
    if args.memory_child:  # a child of the memory section: the parent measured the ceiling
        await _bench_memory(Ctx(args, directory, Ceiling(*([float("nan")] * 7))))
        return 0
    sizes = ("ceiling_n", "seq_ops", "ops", "many_ops", "fsync_ops", "actors", "latency_n", "mem_actors",
             "trace_actors", "wake_n")
    emit("bench_runtime.config", 0, "-", quick=args.quick, profile=args.profile, **{k: getattr(args, k) for k in sizes})
    ceiling = await measure_ceiling(directory, args.ceiling_n)
    ctx = Ctx(args, directory, ceiling)
    only = [s for s in args.only.split(",") if s] or list(SECTIONS)
    for section in only:
        t0 = time.perf_counter()
        log(f"bench_runtime: {section} ...")
        await SECTIONS[section](ctx)
        log(f"bench_runtime: {section} done in {time.perf_counter() - t0:.1f}s")
    emit("bench_runtime.total_seconds", time.perf_counter() - t_start, "s", invalid=ctx.invalid)
    return 1 if ctx.invalid else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    directory = args.dir or tempfile.mkdtemp(prefix="rivet_bench_")
    os.makedirs(directory, exist_ok=True)
    try:
        return int(run_on_loop(lambda: amain(args, directory), args.loop))
    finally:
        if args.dir is None and not args.memory_child:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
