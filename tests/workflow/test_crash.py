"""SIGKILL crash tests: a child process runs workflows on SQLite and is killed mid-load.

After every kill the next process resumes from the same file. Proven at the end: every step's
state effect happened exactly once (no completed step ran twice, nothing lost), the external
side effect at least once with at most one duplicate per kill, and rollbacks ran in reverse
order exactly once each in state.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage

from . import crash_worker

ROOT = Path(__file__).resolve().parents[2]


def _spawn(db: Path, out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CRASH_DIR=str(out), PYTHONPATH=str(ROOT))
    with open(out / "stderr.log", "ab") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.workflow.crash_worker", str(db)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_for(predicate: object, proc: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        if proc.poll() is not None:
            return
        time.sleep(0.002)  # polling another process's progress
    raise AssertionError("child made no progress")


def test_sigkill_during_steps_loops_sleeps_and_rollbacks(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    loop_log = tmp_path / "loop.log"
    saga_log = tmp_path / "saga.log"
    kills = 0
    # Kill points: inside the loop (steps and sleeps), then inside the saga's rollbacks.
    points = [
        lambda: len(_lines(loop_log)) >= 20,
        lambda: len(_lines(loop_log)) >= 60,
        lambda: len(_lines(loop_log)) >= 110,
        lambda: sum(1 for x in _lines(saga_log) if x.startswith("undo")) >= 2,
        lambda: sum(1 for x in _lines(saga_log) if x.startswith("undo")) >= 6,
    ]
    for point in points:
        proc = _spawn(db, tmp_path)
        _wait_for(point, proc)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    proc = _spawn(db, tmp_path)
    proc.wait(timeout=60)
    assert proc.returncode == 0, (tmp_path / "stderr.log").read_text()[-2000:]
    assert (tmp_path / "done").exists()
    assert kills >= 3, kills
    print("kills", kills, "starts", len(_lines(tmp_path / "starts.log")), "loop lines", len(_lines(loop_log)), "saga lines", len(_lines(saga_log)))

    async def read_states() -> tuple[dict[str, object], dict[str, object]]:
        runtime = Runtime(crash_worker.registry, storage=SqliteStorage(str(db)))
        await runtime.start()
        try:
            loop_info = await runtime.get_or_create("crash_loop", ["one"])
            saga_info = await runtime.get_or_create("crash_saga", ["one"])
            loop_state = await runtime.call(loop_info.actor_id, "get_state", [])
            saga_state = await runtime.call(saga_info.actor_id, "get_state", [])
            return loop_state, saga_state
        finally:
            await runtime.stop()

    loop_state, saga_state = asyncio.run(read_states())
    n = crash_worker.ITERATIONS
    # Exactly-once state: every iteration recorded once, in order, nothing lost or doubled.
    assert loop_state["seen"] == list(range(n))
    assert loop_state["total"] == sum(range(n))
    # External effects: at least once; a duplicate only for a step that was running at a kill.
    counts = Counter(_lines(loop_log))
    assert all(counts[str(i)] >= 1 for i in range(n))
    assert sum(c - 1 for c in counts.values()) <= kills
    assert counts["finished"] == 1
    steps = crash_worker.SAGA_STEPS
    assert saga_state["done"] == list(range(steps))
    assert saga_state["undone"] == list(reversed(range(steps)))
    undo_counts = Counter(x for x in _lines(saga_log) if x.startswith("undo"))
    assert all(undo_counts[f"undo {i}"] >= 1 for i in range(steps))
    assert sum(c - 1 for c in undo_counts.values()) <= kills
