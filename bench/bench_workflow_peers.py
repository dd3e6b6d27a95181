"""Workflow benchmark side by side with the real RivetKit (npm) and DBOS on SQLite, same run.

    python bench/bench_workflow_peers.py [--messages 200] [--senders 16] [--dbos-steps 1000] [--skip-peers]

Prints JSON lines ``{"metric","value","unit",...}``:
1. the raw SQLite ceilings (``_common.measure_ceiling``);
2. ours: one actor, queue -> loop -> queue.next -> one step, msgs/s, with the same message count
   and sender concurrency as the RivetKit run;
3. ``peer.rivetkit.*``: ``ONLY=queue node bench.mjs`` from ../shared/peers/rivetkit (run from a
   git-ignored scratch dir bench/.peers/rivetkit), plus ``ratio.ours_over_rivetkit``;
4. ``peer.dbos.*``: ../shared/peers/dbos/bench_dbos.py ``--only a_async`` in bench/.peers/dbos-venv,
   plus ``ratio.ours_over_dbos``.
A peer that cannot run yields a line with an ``error`` field. Every subprocess has a timeout and
is killed (whole process group) on timeout or exit.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_workflow
from _common import LOOPS, emit, log, measure_ceiling, run_on_loop

from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage

ROOT = os.path.dirname(HERE)
PEERS = os.path.abspath(os.path.join(ROOT, "..", "shared", "peers"))
SCRATCH = os.path.join(HERE, ".peers")
_CHILDREN: list[subprocess.Popen[str]] = []


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()


atexit.register(lambda: [_kill(p) for p in _CHILDREN])


def run(cmd: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
        timeout: float) -> tuple[int | None, str, str]:
    """Run ``cmd`` in its own process group; returns (rc or None on timeout, stdout, stderr)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    _CHILDREN.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, err = proc.communicate()
        return None, out, err
    finally:
        _kill(proc)


def json_lines(text: str) -> list[dict[str, Any]]:
    recs = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "metric" in rec:
                recs.append(rec)
    return recs


def reemit(prefix: str, rec: dict[str, Any]) -> None:
    extra = {k: v for k, v in rec.items() if k not in ("metric", "value", "unit")}
    value = rec.get("value")
    emit(prefix + str(rec["metric"]), value if isinstance(value, (int, float, str)) else float("nan"),
         str(rec.get("unit", "")), **extra)


# ------------------------------------------------------------------------------- ours


async def bench_ours(directory: str, ceiling: Any, n: int, senders: int) -> float:
    runtime = Runtime(bench_workflow.registry, storage=SqliteStorage(os.path.join(directory, "peers.db")))
    await runtime.start()
    try:
        info = await runtime.get_or_create("bench_counter", ["peers"])
        await bench_workflow._blocked(runtime, info.actor_id)
        await bench_workflow._drive(runtime, [info.actor_id], 200, 8, False)  # warm up
        bench_workflow.LATENCIES.clear()
        n = n // senders * senders
        dt = await bench_workflow._drive(runtime, [info.actor_id], n, senders, True)
        rate = n / dt
        lat = sorted(bench_workflow.LATENCIES)
        emit("ours.queue.workflow.throughput", rate, "msgs/s", n=n, send_concurrency=senders,
             p50_ms=lat[len(lat) // 2] * 1e3 if lat else float("nan"), **ceiling.ratios(rate))
        return rate
    finally:
        await runtime.stop()


# ------------------------------------------------------------------------------- rivetkit


def _port_busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def bench_rivetkit(n: int, senders: int, timeout: float) -> float | None:
    src = os.path.join(PEERS, "rivetkit")
    work = os.path.join(SCRATCH, "rivetkit")
    try:
        os.makedirs(work, exist_ok=True)
        for name in ("bench.mjs", "actors.mjs", "server.mjs", "package.json", "package-lock.json"):
            if os.path.exists(os.path.join(src, name)):
                if os.path.exists(os.path.join(work, name)):
                    os.remove(os.path.join(work, name))  # the copies are read-only
                shutil.copy(os.path.join(src, name), work)
        nm = os.path.join(work, "node_modules")
        interop = os.path.join(ROOT, "tests", "interop", "node", "node_modules")
        if not os.path.exists(nm):
            ver = None
            try:
                with open(os.path.join(interop, "rivetkit", "package.json")) as f:
                    ver = json.load(f).get("version")
            except OSError:
                pass
            if ver == "2.3.19":
                os.symlink(interop, nm)
            else:
                rc, _, err = run(["npm", "ci"], cwd=work, timeout=600)
                if rc != 0:
                    rc, _, err = run(["npm", "install", "--no-save"], cwd=work, timeout=600)
                if rc != 0:
                    raise RuntimeError(f"npm install failed: {err[-300:]}")
        if _port_busy(6420):
            raise RuntimeError("port 6420 is already in use")
        env = dict(os.environ, ONLY="queue", N_QUEUE=str(n), QUEUE_SEND_CONC=str(senders),
                   MAX_RUNTIME_S=str(int(timeout)))
        # bench.mjs writes results to fd 3 when it is open (run-bench.sh passes 3>&1), else to fd 1;
        # node's own internal fds can occupy 3, so bind 3 to stdout as run-bench.sh does.
        rc, out, err = run(["bash", "-c", "exec node bench.mjs 3>&1"], cwd=work, env=env, timeout=timeout)
        recs = json_lines(out)
        rate = None
        for rec in recs:
            reemit("peer.rivetkit.", rec)
            if rec["metric"] == "queue.workflow.throughput":
                rate = float(rec["value"])
        if rate is None:
            raise RuntimeError(f"no queue.workflow.throughput (rc={rc}): {err.strip()[-400:]}")
        return rate
    except Exception as exc:  # noqa: BLE001 - a peer failure must not crash the run
        emit("peer.rivetkit.queue.workflow.throughput", float("nan"), "msgs/s", error=str(exc)[:600])
        return None


# ------------------------------------------------------------------------------- dbos


def bench_dbos(steps: int, timeout: float) -> float | None:
    venv = os.path.join(SCRATCH, "dbos-venv")
    py = os.path.join(venv, "bin", "python")
    try:
        if not os.path.exists(py):
            rc, _, err = run([sys.executable, "-m", "venv", venv], timeout=120)
            if rc != 0:
                raise RuntimeError(f"venv failed: {err[-300:]}")
        rc, _, _ = run([py, "-c", "import dbos, aiosqlite"], timeout=60)
        if rc != 0:
            rc, _, err = run([py, "-m", "pip", "install", "-q", "dbos==3.4.0", "aiosqlite"], timeout=600)
            if rc != 0:
                raise RuntimeError(f"pip install failed: {err[-300:]}")
        with tempfile.TemporaryDirectory(prefix="rivet-bench-dbos-") as wd:
            rc, out, err = run([py, os.path.join(PEERS, "dbos", "bench_dbos.py"), "--only", "a_async",
                                "--steps", str(steps), "--workdir", wd], cwd=wd, timeout=timeout)
        rate = None
        for rec in json_lines(out):
            reemit("peer.dbos.", rec)
            if str(rec["metric"]).endswith("steps_per_s"):
                rate = float(rec["value"])
        if rate is None:
            raise RuntimeError(f"no steps_per_s (rc={rc}): {err.strip()[-400:]}")
        return rate
    except Exception as exc:  # noqa: BLE001
        emit("peer.dbos.a.steps_per_s", float("nan"), "steps/s", error=str(exc)[:600])
        return None


# ------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200, help="messages for ours and RivetKit")
    parser.add_argument("--senders", type=int, default=16, help="concurrent senders (RivetKit's QUEUE_SEND_CONC)")
    parser.add_argument("--dbos-steps", type=int, default=1000)
    parser.add_argument("--ceiling-n", type=int, default=3000)
    parser.add_argument("--peer-timeout", type=float, default=300.0)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--loop", choices=LOOPS, default="auto")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    with tempfile.TemporaryDirectory(prefix="rivet-bench-wfp-") as directory:
        ceiling = await measure_ceiling(directory, args.ceiling_n, repeat=1)
        ours = await bench_ours(directory, ceiling, args.messages, args.senders)
    if args.skip_peers:
        return
    log("running rivetkit queue phase")
    rk = await asyncio.to_thread(bench_rivetkit, args.messages, args.senders, args.peer_timeout)
    if rk:
        emit("ratio.ours_over_rivetkit", ours / rk, "x", ours_msgs_per_s=ours, rivetkit_msgs_per_s=rk)
    log("running dbos a_async")
    db = await asyncio.to_thread(bench_dbos, args.dbos_steps, args.peer_timeout)
    if db:
        emit("ratio.ours_over_dbos", ours / db, "x", ours_steps_per_s=ours, dbos_steps_per_s=db,
             note="ours: one durable step per queue message; dbos: sequential durable steps in one workflow")


if __name__ == "__main__":
    ARGS = parse_args()
    run_on_loop(lambda: main(ARGS), ARGS.loop)
