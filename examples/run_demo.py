"""`make run`: serve every example on SQLite and drive them with the HTTP client.

The server keeps running after the demo when started from a terminal (Ctrl-C stops it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from examples.client_demo import run_demo

ROOT = Path(__file__).resolve().parents[1]


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
            return port


def _wait_for_port(port: int, server: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start listening in time")


def main() -> int:
    port = _free_port(int(os.environ.get("RIVET_PORT", "6420")))
    db = ROOT / ".rivet" / "demo.db"
    command = [sys.executable, "-m", "rivet_dsl.cli", "serve", "examples.app:registry", "--port", str(port), "--db", str(db)]
    print(f"$ rivet-dsl serve examples.app:registry --port {port} --db {db.relative_to(ROOT)}", flush=True)
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        _wait_for_port(port, server)
        endpoint = f"http://127.0.0.1:{port}"
        asyncio.run(run_demo(endpoint))
        if sys.stdin.isatty():
            print(f"\nThe server is still running at {endpoint} (Ctrl-C to stop).", flush=True)
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
