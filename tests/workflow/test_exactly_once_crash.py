"""Queue hand-off across a real crash (SEMANTICS 3): a child process is SIGKILLed mid-stream.

* A workflow taking non-completable messages: every acknowledged send is applied exactly once
  in actor state after the restarts (nothing lost, nothing doubled, FIFO), the external side
  effect at least once with at most one duplicate per kill.
* A plain ``run`` loop holding a ``completable=True`` message when the process dies gets the
  same message again after the restart, and completing it removes it from the queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage

from . import _queue_crash_child as child

ROOT = Path(__file__).resolve().parents[2]


def _spawn(db: Path, out: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CRASH_DIR=str(out), PYTHONPATH=str(ROOT))
    with open(out / "stderr.log", "ab") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.workflow._queue_crash_child", str(db), str(out), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[bytes], out: Path, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError("child exited early: " + (out / "stderr.log").read_text()[-2000:])
        time.sleep(0.002)  # polling another process's progress
    raise AssertionError("child made no progress")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


async def _consumer_state(db: Path) -> list[int]:
    runtime = Runtime(child.registry, storage=SqliteStorage(str(db)))
    await runtime.start()
    try:
        info = await runtime.get_or_create("queue_consumer", ["one"])
        state = await runtime.call(info.actor_id, "get_state", [])
        return list(state["seen"])
    finally:
        await runtime.stop()


def test_sigkill_mid_stream_applies_every_acknowledged_message_once(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    acked_log = tmp_path / "acked.log"
    applied_log = tmp_path / "applied.log"
    kills = 0
    backlog_at_kill = []
    for run in range(3):
        proc = _spawn(db, tmp_path, "stream", str(run), "0")
        target = run * child.PER_RUN + child.PER_RUN // 2
        _wait_for(lambda target=target: len(_lines(acked_log)) >= target, proc, tmp_path)
        backlog_at_kill.append(len(_lines(acked_log)) - len(_lines(applied_log)))
        _kill(proc)
        kills += 1
    proc = _spawn(db, tmp_path, "stream", "3", "1")
    proc.wait(timeout=60)
    assert proc.returncode == 0, (tmp_path / "stderr.log").read_text()[-2000:]
    assert (tmp_path / "done").exists()
    # The kills landed mid-stream: acknowledged messages were still waiting to be applied.
    assert any(b > 0 for b in backlog_at_kill), backlog_at_kill

    seen = asyncio.run(_consumer_state(db))
    acked = [int(x) for x in _lines(acked_log)]
    print("backlog at kills", backlog_at_kill, "acked", len(acked), "applied", len(seen))
    # Exactly once in state, in FIFO order: nothing acknowledged lost, nothing applied twice.
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)
    assert set(acked) <= set(seen)
    # Beyond the acknowledged ones, only a send in flight at a kill (committed, not yet
    # acknowledged) may have been applied: at most one per kill.
    assert len(set(seen) - set(acked)) <= kills
    assert all(value // 1000 < 3 for value in set(seen) - set(acked))
    # The final run's messages all got through.
    assert [v for v in seen if v // 1000 == 3] == [3000 + j for j in range(child.PER_RUN)]
    # External side effect: at least once per applied message, a duplicate only for the step
    # running at a kill.
    applied = Counter(int(x) for x in _lines(applied_log))
    assert set(applied) == set(seen)
    assert sum(c - 1 for c in applied.values()) <= kills


def test_sigkill_while_run_loop_holds_a_completable_message(tmp_path: Path) -> None:
    db = tmp_path / "hold.db"
    run_log = tmp_path / "run.log"
    proc = _spawn(db, tmp_path, "hold")
    sent_log = tmp_path / "sent.log"
    _wait_for(lambda: _lines(sent_log) and f"got {child.HELD}" in _lines(run_log), proc, tmp_path)
    _kill(proc)
    assert _lines(sent_log) == [str(child.HELD)]  # acknowledged
    assert _lines(run_log) == [f"got {child.HELD}"]
    proc = _spawn(db, tmp_path, "finish")
    proc.wait(timeout=60)
    assert proc.returncode == 0, (tmp_path / "stderr.log").read_text()[-2000:]
    assert (tmp_path / "done-hold").exists()
    # Received again after the crash (at-least-once), completed once, and then gone.
    assert _lines(run_log) == [f"got {child.HELD}", f"got {child.HELD}", f"completed {child.HELD}", "queue 0"]
