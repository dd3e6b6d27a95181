"""Benchmark the durable workflow engine; prints JSON lines ``{"metric","value","unit",...}``.

    python bench/bench_workflow.py [--messages 20000] [--actors 1000] [--per-actor 20] [--loop auto]

1. One actor, queue -> ``loop`` -> ``queue.next`` -> one durable ``step``: messages/s and p50
   end-to-end latency (send start -> the step's commit), against the raw SQLite single-commit
   rate measured at the start of the same run (``_common.measure_ceiling``).
2. 1,000 actors doing the same concurrently: aggregate durable steps/s, against the same-run
   group-commit ceiling.
3. Wake-up replay time (crash + reload on SQLite, wake until the workflow waits again) of a
   loop that ran 100,000 iterations, and of a workflow with 1,000 completed top-level steps.
4. Per-step engine overhead without storage I/O (``MemoryStorage``), in microseconds, and the
   1,000-actor workload on ``MemoryStorage`` (what the engine alone reaches, for scale).
5. The schema ceilings: raw ``sqlite3`` writing the rows a step writes, in rivet_dsl's own
   schema, with no engine (per message of one actor: two history entries, the state, the
   queue insert and delete, one commit each; per step of 1,000 actors: two history entries
   and the state, 250 actors per commit). Our rates are also given as ratios to these.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any

import msgspec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import LOOPS, emit, log, measure_ceiling, percentiles, remove_db, run_on_loop  # noqa: E402

from rivet_dsl import Actor, Loop, WorkflowContext, action, queue, setup, workflow  # noqa: E402
from rivet_dsl.runtime import Runtime, tune_interpreter  # noqa: E402
from rivet_dsl.storage import MemoryStorage, SqliteStorage  # noqa: E402
from rivet_dsl.storage._schema import MIGRATIONS  # noqa: E402

LATENCIES: list[float] = []
#: The storage of the runtime being driven (for the latency stamp).
DRIVEN: dict[str, Any] = {}
REPLAY_ITERATIONS = {"n": 100_000}
TOP_STEPS = {"n": 1_000}


class Job(msgspec.Struct):
    value: int
    sent_at: float = 0.0


class BenchState(msgspec.Struct):
    total: int = 0
    processed: int = 0


class BenchCounter(Actor[BenchState], max_queue_size=1_000_000):
    @queue
    def jobs(self, body: Job) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-job", names=[self.jobs])
            await loop.step("apply", self.apply, message.body.value)
            if message.body.sent_at:
                _stamp_when_durable(message.body.sent_at)

        await ctx.loop("job-loop", each)

    def apply(self, value: int) -> None:
        self.state.total += value
        self.state.processed += 1

    @action
    def processed(self) -> int:
        return self.state.processed


def _stamp_when_durable(sent_at: float) -> None:
    """Record send -> commit of the step just taken. The step returns before its commit lands
    (the next step waits for it), so the latency is stamped when the pending commit resolves."""
    def stamp(_: object) -> None:
        LATENCIES.append(time.perf_counter() - sent_at)

    DRIVEN["storage"].commit().add_done_callback(stamp)


class LongLoop(Actor[BenchState]):
    @queue
    def jobs(self, body: Job) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext, i: int) -> Loop[int]:
            await loop.step("tick", self.apply, 1, ephemeral=True)
            if i + 1 >= REPLAY_ITERATIONS["n"]:
                await loop.queue.next("park", names=[self.jobs])
                return Loop.break_(i)
            return Loop.continue_(i + 1)

        await ctx.loop("long-loop", each, state=0)

    def apply(self, value: int) -> None:
        self.state.processed += value


class ManySteps(Actor[BenchState]):
    @queue
    def jobs(self, body: Job) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        for i in range(TOP_STEPS["n"]):
            await ctx.step(f"step-{i}", self.apply, 1)
        await ctx.queue.next("park", names=[self.jobs])

    def apply(self, value: int) -> None:
        self.state.processed += value


registry = setup(BenchCounter, LongLoop, ManySteps)


async def _blocked(runtime: Runtime, actor_id: str) -> Any:
    actor = await runtime.acquire(actor_id)
    while actor.workflow is None:
        await asyncio.sleep(0)
    await actor.workflow.until_blocked()
    return actor


async def _drive(runtime: Runtime, actor_ids: list[str], per_actor: int, in_flight: int, stamp: bool) -> float:
    """Send ``per_actor`` messages to each actor (``in_flight`` concurrent senders per actor);
    returns the seconds until every message was processed."""
    DRIVEN["storage"] = runtime.storage
    # Processed counts carry over from earlier runs on the same actors: wait for the increase.
    baseline = {a: (await runtime.acquire(a)).get_state().processed for a in actor_ids}
    t0 = time.perf_counter()

    async def sender(actor_id: str, count: int) -> None:
        for i in range(count):
            body = {"value": 1, "sent_at": time.perf_counter() if stamp else 0.0}
            await runtime.send(actor_id, "jobs", body)

    per_sender = per_actor // in_flight
    await asyncio.gather(*(sender(a, per_sender) for a in actor_ids for _ in range(in_flight)))
    expected = per_sender * in_flight
    for actor_id in actor_ids:
        actor = await runtime.acquire(actor_id)
        while True:
            if actor.get_state().processed >= baseline[actor_id] + expected:
                break
            await actor.workflow.until_blocked()
    return time.perf_counter() - t0


class SchemaCeiling(msgspec.Struct):
    single_step_commits_per_s: float
    many_actor_steps_per_s: float


def _schema_db(path: str, actors: int) -> tuple[sqlite3.Connection, list[str]]:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    for version in sorted(MIGRATIONS):
        for statement in MIGRATIONS[version]:
            con.execute(statement)
    ids = [f"{i:08d}-{os.urandom(6).hex()}" for i in range(actors)]
    con.executemany("INSERT INTO actors (actor_id, name, key, input, created_at, state, alarm_at)"
                    " VALUES (?, 'bench_counter', ?, NULL, 0, ?, NULL)", [(a, a, b"\x00" * 12) for a in ids])
    return con, ids


_KV = "INSERT INTO kv (actor_id, key, value) VALUES (?, ?, ?)"
_STATE = "UPDATE actors SET state = ? WHERE actor_id = ?"


def _entry(i: int, slot: int) -> bytes:
    return b"wf/e/\x00\x01~" + i.to_bytes(4, "big") + bytes([0, slot])


def schema_ceiling(directory: str, n: int, actors: int, rounds: int) -> SchemaCeiling:
    """Raw sqlite3 writing the rows our steps write (see the module docstring), median of 3."""
    def single() -> float:
        path = os.path.join(directory, "schema_single.db")
        con, (actor,) = _schema_db(path, 1)
        t0 = time.perf_counter()
        for i in range(n):
            con.execute("BEGIN IMMEDIATE")
            con.executemany(_KV, [(actor, _entry(i, 2), b"m" * 60), (actor, _entry(i, 3), b"s" * 24)])
            con.execute(_STATE, (i.to_bytes(8, "big") + b"\x00" * 4, actor))
            con.execute("INSERT INTO queue (actor_id, seq, name, body, created_at) VALUES (?, ?, 'jobs', ?, 0)",
                        (actor, i + 1, b"j" * 24))
            con.execute("DELETE FROM queue WHERE actor_id = ? AND seq = ?", (actor, i))
            con.execute("COMMIT")
        dt = time.perf_counter() - t0
        con.close()
        remove_db(path)
        return n / dt

    def many() -> float:
        path = os.path.join(directory, "schema_many.db")
        con, ids = _schema_db(path, actors)
        per_commit = 250
        t0 = time.perf_counter()
        for r in range(rounds):
            for start in range(0, actors, per_commit):
                chunk = ids[start : start + per_commit]
                con.execute("BEGIN IMMEDIATE")
                con.executemany(_KV, [(a, _entry(r, slot), b"m" * 60) for a in chunk for slot in (2, 3)])
                con.executemany(_STATE, [(r.to_bytes(8, "big") + b"\x00" * 4, a) for a in chunk])
                con.execute("COMMIT")
        dt = time.perf_counter() - t0
        con.close()
        remove_db(path)
        return actors * rounds / dt

    result = SchemaCeiling(statistics.median(single() for _ in range(3)), statistics.median(many() for _ in range(3)))
    emit("ceiling.schema.single_step_commits_per_s", result.single_step_commits_per_s, "commits/s", n=n,
         rows_per_commit=5, note="raw sqlite3, rivet_dsl schema: 2 history entries + state + queue insert/delete")
    emit("ceiling.schema.many_actor_steps_per_s", result.many_actor_steps_per_s, "steps/s", actors=actors,
         rounds=rounds, actors_per_commit=250, note="raw sqlite3, rivet_dsl schema: 2 history entries + state per step")
    return result


async def bench_single(directory: str, ceiling: Any, schema: SchemaCeiling, n: int) -> None:
    runtime = Runtime(registry, storage=SqliteStorage(os.path.join(directory, "single.db")))
    await runtime.start()
    try:
        info = await runtime.get_or_create("bench_counter", ["single"])
        await _blocked(runtime, info.actor_id)
        await _drive(runtime, [info.actor_id], 200, 8, False)  # warm up
        LATENCIES.clear()
        dt = await _drive(runtime, [info.actor_id], n, 32, True)
        rate = n / dt
        lat = sorted(LATENCIES)
        stats = percentiles(lat)
        emit("workflow.single_actor.messages_per_s", rate, "msgs/s", n=n, in_flight=32,
             commits=runtime.storage.commits, ratio_to_schema_ceiling=rate / schema.single_step_commits_per_s,
             **ceiling.ratios(rate))
        emit("workflow.single_actor.latency_p50_under_load", stats["p50"] * 1e3, "ms",
             p90_ms=stats["p90"] * 1e3, p99_ms=stats["p99"] * 1e3, in_flight=32)
        # Unloaded: one message at a time.
        LATENCIES.clear()
        await _drive(runtime, [info.actor_id], 300, 1, True)
        stats = percentiles(sorted(LATENCIES))
        emit("workflow.single_actor.latency_p50", stats["p50"] * 1e3, "ms", p90_ms=stats["p90"] * 1e3,
             p99_ms=stats["p99"] * 1e3, in_flight=1,
             ratio_to_single_commit=stats["p50"] / ceiling.single_commit_s)
    finally:
        await runtime.stop()


async def bench_many(directory: str, ceiling: Any, schema: SchemaCeiling, actors: int, per_actor: int) -> None:
    runtime = Runtime(registry, storage=SqliteStorage(os.path.join(directory, "many.db")))
    await runtime.start()
    try:
        ids = [(await runtime.get_or_create("bench_counter", [f"a{i}"])).actor_id for i in range(actors)]
        for actor_id in ids:
            await _blocked(runtime, actor_id)
        # One sender per actor leaves the loop idle while each round's commit runs (every actor
        # waits for it at once); a few senders per actor keep sending and processing overlapped.
        for in_flight in (1, 4):
            commits = runtime.storage.commits
            dt = await _drive(runtime, ids, per_actor, in_flight, False)
            steps = actors * (per_actor // in_flight) * in_flight
            rate = steps / dt
            emit("workflow.many_actors.durable_steps_per_s" + ("" if in_flight == 4 else ".one_sender"), rate,
                 "steps/s", actors=actors, per_actor=per_actor, senders_per_actor=in_flight,
                 commits=runtime.storage.commits - commits, interpreter="tune_interpreter()",
                 ratio_to_schema_ceiling=rate / schema.many_actor_steps_per_s, **ceiling.ratios(rate))
    finally:
        await runtime.stop()


async def bench_many_memory(ceiling: Any, actors: int, per_actor: int) -> None:
    """The 1,000-actor workload (one sender each) on ``MemoryStorage``: what the engine and
    runtime reach on this event loop with no storage at all, against the target (half the
    same-run group-commit ceiling)."""
    runtime = Runtime(registry, storage=MemoryStorage())
    await runtime.start()
    try:
        ids = [(await runtime.get_or_create("bench_counter", [f"m{i}"])).actor_id for i in range(actors)]
        for actor_id in ids:
            await _blocked(runtime, actor_id)
        await _drive(runtime, ids, 2, 1, False)  # warm up
        cpu = time.thread_time()
        dt = await _drive(runtime, ids, per_actor, 1, False)
        cpu = time.thread_time() - cpu
        steps = actors * per_actor
        target = 0.5 * ceiling.group_commit_rows_per_s
        emit("workflow.many_actors.memory_steps_per_s", steps / dt, "steps/s", actors=actors, per_actor=per_actor,
             event_loop_cpu_us_per_step=cpu / steps * 1e6, target_steps_per_s=target,
             ratio_to_target=steps / dt / target,
             note="MemoryStorage: engine + runtime + the benchmark's senders, no storage I/O")
    finally:
        await runtime.stop()


async def bench_replay(directory: str, iterations: int, top_steps: int) -> None:
    REPLAY_ITERATIONS["n"] = iterations
    TOP_STEPS["n"] = top_steps
    path = os.path.join(directory, "replay.db")
    runtime = Runtime(registry, storage=SqliteStorage(path))
    await runtime.start()
    t0 = time.perf_counter()
    loop_id = (await runtime.get_or_create("long_loop", ["x"])).actor_id
    await _blocked(runtime, loop_id)
    log(f"ran {iterations} loop iterations in {time.perf_counter() - t0:.1f}s")
    steps_id = (await runtime.get_or_create("many_steps", ["x"])).actor_id
    await _blocked(runtime, steps_id)
    await runtime.crash()
    for label, actor_id, count in (("loop_100k_iterations", loop_id, iterations), ("top_level_1000_steps", steps_id, top_steps)):
        samples = []
        for _ in range(5):
            runtime = Runtime(registry, storage=SqliteStorage(path))
            await runtime.start()
            t = time.perf_counter()
            await _blocked(runtime, actor_id)
            samples.append(time.perf_counter() - t)
            rows = len(await runtime.storage.load_kv(actor_id, b"wf/"))
            await runtime.crash()
        samples.sort()
        target = 20.0 if label.startswith("loop") else 50.0
        emit(f"workflow.replay.{label}", samples[len(samples) // 2] * 1e3, "ms", count=count, history_rows=rows,
             target_ms=target, ratio_to_target=samples[len(samples) // 2] * 1e3 / target)


async def bench_memory(n: int) -> None:
    runtime = Runtime(registry, storage=MemoryStorage())
    await runtime.start()
    try:
        info = await runtime.get_or_create("bench_counter", ["mem"])
        await _blocked(runtime, info.actor_id)
        await _drive(runtime, [info.actor_id], 1000, 16, False)
        dt = await _drive(runtime, [info.actor_id], n, 64, False)
        emit("workflow.memory.per_message_us", dt / n * 1e6, "us", n=n,
             note="queue send + hand-off + one durable step + commit, MemoryStorage")
        REPLAY_ITERATIONS["n"] = n
        loop_id = (await runtime.get_or_create("long_loop", ["mem"])).actor_id
        t = time.perf_counter()
        await _blocked(runtime, loop_id)
        dt = time.perf_counter() - t
        emit("workflow.memory.per_step_us", dt / n * 1e6, "us", n=n,
             note="one loop iteration with one step, no commit wait (ephemeral), MemoryStorage")
    finally:
        await runtime.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--per-actor", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--top-steps", type=int, default=1000)
    parser.add_argument("--ceiling-n", type=int, default=3000)
    parser.add_argument("--loop", choices=LOOPS, default="auto")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    # The interpreter settings `rivet-dsl serve` uses (collector, thread switch interval).
    tune_interpreter()
    with tempfile.TemporaryDirectory(prefix="rivet-bench-wf-") as directory:
        ceiling = await measure_ceiling(directory, args.ceiling_n, repeat=3)
        schema = schema_ceiling(directory, args.ceiling_n, args.actors, 10)
        await bench_single(directory, ceiling, schema, args.messages)
        await bench_many(directory, ceiling, schema, args.actors, args.per_actor)
        await bench_replay(directory, args.iterations, args.top_steps)
        await bench_memory(20_000)
        await bench_many_memory(ceiling, args.actors, args.per_actor)


if __name__ == "__main__":
    ARGS = parse_args()
    run_on_loop(lambda: main(ARGS), ARGS.loop)
