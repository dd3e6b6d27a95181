"""Server benchmark: the HTTP/WebSocket gateway against a no-op endpoint on the same ASGI stack.

    python bench/bench_server.py            # JSON lines on stdout, progress on stderr
    RIVET_BENCH_QUICK=1 python bench/bench_server.py

One server process serves the test actors (``tests/server/actors.py``) plus ``POST /noop``, a
route on the same Starlette app and uvicorn server that reads and decodes the body and answers
``{"output": null}`` without touching the runtime: the floor every action is compared with.

Measured (each its own JSON line):

* ``server.http.{noop,action,action_read}.seq``: sequential POSTs on one keep-alive connection
  (stdlib ``http.client``, the lightest Python client): p50/p99 latency and requests/s, in
  alternating rounds. ``action`` is ``increment(1)`` (its state change is committed before the
  reply), ``action_read`` is ``getCount()`` (nothing to commit): the difference is the storage.
* ``server.http.{noop,action}.c64``: 64 concurrent keep-alive connections driven by ``wrk``
  (when installed; else 4 processes x 16 threads of ``http.client``): requests/s and latency.
  All 64 callers hit one actor (``increment(1)``; every call is committed before its reply).
* ``server.ws.action.seq``: sequential actions over one WebSocket (``/connect``), round trip.
* ``server.queue.wait_send.seq``: ``send(wait=True)`` to a completable queue answered by the
  actor's run loop, round trip.
* ``server.cold_start``: ``getOrCreate`` of a new key + first action, one HTTP request each.

Then the same phases (smaller sizes: it is ~100x slower) against RivetKit 2.3.19 itself
(``tests/interop/node/rivetkit_server.mjs``, the same actors, port 6420, the same load tools),
as ``rivetkit.*``, and ``compare.*`` ratios. ``RIVET_BENCH_RIVETKIT=0`` skips that part.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from _common import emit, log, percentiles

QUICK = os.environ.get("RIVET_BENCH_QUICK") == "1"
N_SEQ = 300 if QUICK else 3000
N_WS = 300 if QUICK else 3000
N_RR = 100 if QUICK else 1000
N_COLD = 20 if QUICK else 100
WRK_SECONDS = 2 if QUICK else 8
CONC = 64

ACTION_PATH = "/gateway/counter/action/increment?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=bench&rvt-crash-policy=sleep"
ACTION_BODY = b'{"args":[1]}'
HEADERS = {"content-type": "application/json", "x-rivet-encoding": "json"}


# ----------------------------------------------------------------------------- server side


def serve(port: int, db: str) -> None:
    """The server process: the test registry plus ``POST /noop`` on the same app."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from rivet_dsl.runtime import Runtime
    from rivet_dsl.server import run_app
    from rivet_dsl.server._app import (
        ServerConfig,
        create_app,
        decode_body,
        encode,
        read_body,
    )
    from rivet_dsl.storage import SqliteStorage
    from tests.server.actors import registry

    async def noop(request: Request) -> Response:
        decode_body(await read_body(request, 65536), "json")
        return Response(encode({"output": None}, "json"), media_type="application/json")

    runtime = Runtime(registry, storage=SqliteStorage(db))
    app = create_app(runtime, ServerConfig(), extra_routes=[Route("/noop", noop, methods=["POST"])])
    run_app(app, host="127.0.0.1", port=port)


# ----------------------------------------------------------------------------- client side


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(conn: http.client.HTTPConnection, path: str, body: bytes) -> bytes:
    conn.request("POST", path, body=body, headers=HEADERS)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status} {data[:200]!r}")
    return data


def sequential(port: int, path: str, body: bytes, n: int, warmup: int = 100) -> tuple[list[float], float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(warmup):  # warm-up (also creates and wakes the actor)
        post(conn, path, body)
    samples: list[float] = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        post(conn, path, body)
        samples.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - t0
    conn.close()
    return samples, n / elapsed


def wrk(port: int, path: str, body: bytes) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body.decode())}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            'wrk.headers["x-rivet-encoding"] = "json"\n'
        )
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{CONC}", f"-d{WRK_SECONDS}s", "--latency", "-s", script.name, f"http://127.0.0.1:{port}{path}"],
            capture_output=True,
            text=True,
            timeout=WRK_SECONDS + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            return float("nan")
        value = float(match.group(1))
        return value / 1000 if match.group(2) == "us" else value * 1000 if match.group(2) == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
        "tool": "wrk -t2 -c64",
    }


def _load_worker(args: tuple[int, str, bytes, float, int]) -> tuple[int, list[float]]:
    port, path, body, seconds, threads = args
    samples: list[float] = []
    count = [0]
    lock = threading.Lock()

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        local: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            post(conn, path, body)
            local.append((time.perf_counter() - t) * 1000)
        with lock:
            samples.extend(local)
            count[0] += len(local)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return count[0], samples


def process_load(port: int, path: str, body: bytes) -> dict[str, Any]:
    procs = 4
    with multiprocessing.Pool(procs) as pool:
        t0 = time.perf_counter()
        results = pool.map(_load_worker, [(port, path, body, float(WRK_SECONDS), CONC // procs)] * procs)
        elapsed = time.perf_counter() - t0
    total = sum(r[0] for r in results)
    stats = percentiles([s for r in results for s in r[1]])
    return {"rps": total / elapsed, "p50": stats["p50"], "p99": stats["p99"], "tool": "4 procs x 16 threads http.client"}


QUERY = "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-crash-policy=sleep"


def ws_round_trips(port: int, n: int, warmup: int) -> list[float]:
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{port}/gateway/counter/connect?{QUERY}&rvt-key=bench-ws"
    samples: list[float] = []
    with connect(url, subprotocols=["rivet", "rivet_encoding.json"], compression=None) as ws:  # type: ignore[list-item]
        ws.recv()  # Init
        for i in range(n + warmup):
            frame = json.dumps({"body": {"tag": "ActionRequest", "val": {"id": ["$BigInt", str(i)], "name": "increment", "args": [1]}}})
            t = time.perf_counter()
            ws.send(frame)
            reply = ws.recv()
            if i >= warmup:
                samples.append((time.perf_counter() - t) * 1000)
            if '"ActionResponse"' not in str(reply):
                raise RuntimeError(f"unexpected frame {reply!r}")
    return samples


class Sizes:
    def __init__(self, seq: int, ws: int, rr: int, cold: int, warmup: int) -> None:
        self.seq, self.ws, self.rr, self.cold, self.warmup = seq, ws, rr, cold, warmup


def measure(side: str, port: int, sizes: Sizes, context: dict[str, Any]) -> dict[str, float]:
    """Every phase against one server; metric names ``<side>.*``. Returns the headline p50s."""
    head: dict[str, float] = {}
    ctx = {"side": side, **context}
    # -- sequential HTTP: rounds alternate between the endpoints so that machine noise
    # (other processes on a small box) falls on all of them alike.
    cases = [
        ("action", ACTION_PATH, ACTION_BODY, "increment(1): state change committed to storage before the reply"),
        ("action_read", ACTION_PATH.replace("increment", "getCount"), b'{"args":[]}', "getCount(): no state change"),
    ]
    if side == "server":
        cases.insert(0, ("noop", "/noop", ACTION_BODY, "no-op route on the same app: the floor"))
    rounds = 5 if sizes.seq >= 500 else 1
    all_samples: dict[str, list[float]] = {label: [] for label, *_ in cases}
    elapsed: dict[str, float] = {label: 0.0 for label, *_ in cases}
    for round_ in range(rounds):
        for label, path, body, _ in cases:
            log(f"{side}: http {label} sequential x{sizes.seq // rounds} (round {round_ + 1}/{rounds})")
            samples, rps = sequential(port, path, body, sizes.seq // rounds, sizes.warmup)
            all_samples[label].extend(samples)
            elapsed[label] += len(samples) / rps
    for label, _, _, note in cases:
        stats = percentiles(all_samples[label])
        rps = len(all_samples[label]) / elapsed[label]
        head[f"http.{label}.seq.p50"] = stats["p50"]
        emit(f"{side}.http.{label}.seq.p50", stats["p50"], "ms", n=len(all_samples[label]), note=note, **ctx)
        emit(f"{side}.http.{label}.seq.p99", stats["p99"], "ms", n=len(all_samples[label]), side=side)
        emit(f"{side}.http.{label}.seq.throughput", rps, "req/s", n=len(all_samples[label]), side=side)
    if side == "server":
        emit("server.http.action_vs_noop.seq.p50_ratio", head["http.action.seq.p50"] / head["http.noop.seq.p50"], "x", target="<= 1.5")
        emit(
            "server.http.action_read_vs_noop.seq.p50_ratio",
            head["http.action_read.seq.p50"] / head["http.noop.seq.p50"],
            "x",
            target="<= 1.5",
        )

    # -- 64 concurrent callers
    conc: dict[str, dict[str, Any]] = {}
    for label, path in (("noop", "/noop"), ("action", ACTION_PATH)):
        if label == "noop" and side != "server":
            continue
        log(f"{side}: http {label} x{CONC} concurrent for {WRK_SECONDS}s")
        result = wrk(port, path, ACTION_BODY) if shutil.which("wrk") else process_load(port, path, ACTION_BODY)
        conc[label] = result
        extra = {k: v for k, v in result.items() if k not in ("rps", "p50", "p99")}
        head[f"http.{label}.c64.throughput"] = result["rps"]
        emit(f"{side}.http.{label}.c64.throughput", result["rps"], "req/s", **extra, **ctx)
        emit(f"{side}.http.{label}.c64.p50", result["p50"], "ms", **extra, side=side)
        emit(f"{side}.http.{label}.c64.p99", result["p99"], "ms", **extra, side=side)
    if side == "server":
        emit("server.http.action_vs_noop.c64.throughput_ratio", conc["noop"]["rps"] / conc["action"]["rps"], "x", note="noop rps / action rps")

    # -- WebSocket
    log(f"{side}: ws action x{sizes.ws}")
    ws = percentiles(ws_round_trips(port, sizes.ws, sizes.warmup))
    head["ws.action.seq.p50"] = ws["p50"]
    emit(f"{side}.ws.action.seq.p50", ws["p50"], "ms", n=sizes.ws, target="<= 0.5", side=side)
    emit(f"{side}.ws.action.seq.p99", ws["p99"], "ms", n=sizes.ws, side=side)

    # -- queue send with wait
    log(f"{side}: queue wait-send x{sizes.rr}")
    rr_path = f"/gateway/requestResponseActor/queue/requests?{QUERY}&rvt-key=bench-rr"
    conn = http.client.HTTPConnection("127.0.0.1", port)
    samples = []
    for i in range(sizes.rr + sizes.warmup):
        body = json.dumps({"body": {"value": i}, "name": "requests", "wait": True, "timeout": 30000}).encode()
        t = time.perf_counter()
        reply = json.loads(post(conn, rr_path, body))
        if i >= sizes.warmup:
            samples.append((time.perf_counter() - t) * 1000)
        if reply != {"status": "completed", "response": {"doubled": 2 * i}}:
            raise RuntimeError(f"bad reply {reply}")
    rr = percentiles(samples)
    head["queue.wait_send.seq.p50"] = rr["p50"]
    emit(f"{side}.queue.wait_send.seq.p50", rr["p50"], "ms", n=sizes.rr, target="<= 2", side=side)
    emit(f"{side}.queue.wait_send.seq.p99", rr["p99"], "ms", n=sizes.rr, side=side)

    # -- cold start
    log(f"{side}: cold start x{sizes.cold}")
    samples = []
    for _ in range(sizes.cold):
        path = ACTION_PATH.replace("rvt-key=bench", f"rvt-key=cold-{uuid.uuid4().hex}")
        t = time.perf_counter()
        post(conn, path, ACTION_BODY)
        samples.append((time.perf_counter() - t) * 1000)
    cold = percentiles(samples)
    head["cold_start.p50"] = cold["p50"]
    emit(f"{side}.cold_start.p50", cold["p50"], "ms", n=sizes.cold, target="<= 5", note="getOrCreate new key + first action, one HTTP request", side=side)
    emit(f"{side}.cold_start.p90", cold["p90"], "ms", n=sizes.cold, side=side)
    conn.close()
    return head


def implementations() -> dict[str, Any]:
    try:
        import httptools  # noqa: F401

        http_impl = "httptools"
    except ImportError:
        http_impl = "h11"
    try:
        import uvloop  # noqa: F401

        loop_impl = "uvloop"
    except ImportError:
        loop_impl = "asyncio"
    return {"http_impl": http_impl, "loop": loop_impl, "cpus": os.cpu_count()}


def main() -> int:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="rivet-bench-server-")
    db = os.path.join(tmp, "rivet.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), db], env=env)
    ours: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded readiness poll
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("bench server did not start")
            time.sleep(0.05)
        ours = measure("server", port, Sizes(N_SEQ, N_WS, N_RR, N_COLD, 100), implementations())
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    if os.environ.get("RIVET_BENCH_RIVETKIT", "1") != "0":
        # RivetKit 2.3.19 itself (tests/interop/node), same actors, same load tools.
        from tests.interop._node import NODE_DIR, RivetKitServer

        if not (NODE_DIR / "node_modules" / "rivetkit").exists():
            log("rivetkit: tests/interop/node/node_modules is missing; run the interop tests (npm ci) first")
            emit("rivetkit.skipped", 1, "flag", reason="node_modules missing")
            return 0
        storage = Path(tempfile.mkdtemp(prefix="rivet-bench-rivetkit-"))
        try:
            with RivetKitServer(storage):
                n = 20 if QUICK else 200
                theirs = measure("rivetkit", 6420, Sizes(n, n, n // 2, max(5, n // 10), 5), {})
        finally:
            shutil.rmtree(storage, ignore_errors=True)
        for name, value in theirs.items():
            if name in ours and value:
                better = value / ours[name] if "throughput" not in name else ours[name] / value
                emit(f"compare.{name}", better, "x", note="how many times better rivet_dsl is than RivetKit here")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit(main())
