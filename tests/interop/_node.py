"""Node tooling for the interop tests: the pinned rivetkit package (``npm ci`` on first use)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_node_modules() -> Path:
    """Install the pinned rivetkit (``npm ci``, ~2.5 min) if ``node_modules`` is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are required for the interop tests")
    marker = NODE_DIR / "node_modules" / "rivetkit" / "package.json"
    if marker.exists():
        return NODE_DIR
    # pytest-xdist workers may get here together: one installs, the others wait on the lock.
    with open(NODE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _install(marker)
    return NODE_DIR


def _install(marker: Path) -> None:
    if not marker.exists():
        env = {**os.environ, "npm_config_loglevel": "error"}
        ci = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, timeout=900, env=env, check=False)
        if ci.returncode != 0:
            # npm 11 refuses `npm ci` when the registry mirror lacks the other platforms' optional
            # binaries the lock file omits; `npm install` still honours the locked versions.
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--no-save"], cwd=NODE_DIR, check=True, timeout=900, env=env
            )


ENDPOINT = "http://127.0.0.1:6420"


def _port_free(port: int) -> bool:
    """Nothing listens on ``port`` (TIME_WAIT leftovers of a previous run do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _engine_pid(storage: Path) -> int | None:
    try:
        runtime = json.loads((storage / ".rivetkit/var/engine/runtime.json").read_text())
        pid = int(runtime["pid"])
        if "rivet-engine" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
            return pid
    except (OSError, ValueError, KeyError):
        pass
    return None


class RivetKitServer:
    """``node rivetkit_server.mjs``: real RivetKit 2.3.19 with its local engine on port 6420.

    ``with RivetKitServer(storage_dir) as endpoint: ...`` starts it (bounded readiness poll:
    the engine starts, then the actors register) and stops node, rivet-services and the
    detached rivet-engine afterwards.
    """

    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        node_dir = ensure_node_modules()
        if not _port_free(6420):
            raise RuntimeError("port 6420 is in use; the real RivetKit engine needs it (stop the other server)")
        log = open(self.storage / "rivetkit.log", "wb")
        self.proc = subprocess.Popen(
            ["node", "rivetkit_server.mjs"],
            cwd=node_dir,
            env={**os.environ, "RIVETKIT_STORAGE_PATH": str(self.storage), "RIVET_LOG_LEVEL": "warn"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return ENDPOINT

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log(self) -> str:
        return (self.storage / "rivetkit.log").read_text(errors="replace")[-3000:]

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 180
        params = {"rvt-namespace": "default", "rvt-method": "getOrCreate", "rvt-runner": "default", "rvt-key": "ready", "rvt-crash-policy": "sleep"}
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rivetkit exited: {self._log()}")
            try:
                r = httpx.post(
                    f"{ENDPOINT}/gateway/counter/action/getCount",
                    params=params,
                    json={"args": []},
                    headers={"x-rivet-encoding": "json"},
                    timeout=10,
                )
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"rivetkit not ready: {self._log()}")
            time.sleep(0.2)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        engine = _engine_pid(self.storage)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    continue
        if engine is not None:
            # rivetkit spawns the engine detached (it outlives node); stop it explicitly.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(engine, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and Path(f"/proc/{engine}").exists():
                    time.sleep(0.05)
        self.proc = None
