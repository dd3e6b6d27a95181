"""What ``rivet-dsl serve`` tells a newcomer on stderr, from a real process on a real port.

Before: ``rivet-dsl serve pkg.mod:nope`` (no such attribute) said ``pkg.mod:nope is not a
Registry (got NoneType)``, and a server started at the default log level printed nothing at
all once it listened, so one could not tell it was up.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ._harness import ROOT, free_port

REGISTRY = "tests.server.actors:registry"
#: Seconds a server gets to start listening (or a refused command to exit).
DEADLINE_S = 30.0


class CliProcess:
    """``python -m rivet_dsl.cli serve ...`` (the ``rivet-dsl`` command) with its stderr read
    line by line on a thread, so the test can wait for a line with a deadline."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rivet_dsl.cli", "serve", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)  # end of stderr: the process is gone

    def wait_for(self, text: str, timeout: float = DEADLINE_S) -> str:
        """The first stderr line containing ``text``; fails if stderr ends or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"stderr ended (exit {self.proc.wait(10)}) without {text!r}: {self.lines}")
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"no stderr line with {text!r} within {timeout}s: {self.lines}")

    def exited(self, timeout: float = DEADLINE_S) -> int:
        """The exit code of a process that ends by itself (a refused command), rest of stderr read."""
        code = self.proc.wait(timeout)
        self.finish()
        return code

    def finish(self, timeout: float = DEADLINE_S) -> int:
        """Stop the process if it runs (SIGTERM: graceful), collect the rest of stderr, exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        self._reader.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code


@pytest.fixture
def started() -> Iterator[list[CliProcess]]:
    processes: list[CliProcess] = []
    try:
        yield processes
    finally:
        for process in processes:
            process.finish()


def test_a_missing_attribute_is_named_as_missing(tmp_path: Path, started: list[CliProcess]) -> None:
    process = CliProcess("tests.server.actors:nope", "--port", str(free_port()), "--db", str(tmp_path / "rivet.db"))
    started.append(process)
    line = process.wait_for("rivet-dsl serve:")
    assert line == "rivet-dsl serve: module 'tests.server.actors' has no attribute 'nope'"
    assert process.exited() == 2  # a usage error, as every other bad MODULE:REGISTRY
    assert not any("NoneType" in text for text in process.lines), process.lines


def test_an_attribute_that_is_not_a_registry_still_says_what_it_is(tmp_path: Path, started: list[CliProcess]) -> None:
    process = CliProcess("tests.server.actors:Counter", "--port", str(free_port()), "--db", str(tmp_path / "rivet.db"))
    started.append(process)
    line = process.wait_for("rivet-dsl serve:")
    assert line == "rivet-dsl serve: tests.server.actors:Counter is not a Registry (got type)"
    assert process.exited() == 2


@pytest.mark.parametrize(("extra", "storage"), [([], "SQLite {db}"), (["--fsync"], "SQLite {db}, fsync")])
def test_the_server_says_once_it_listens(
    tmp_path: Path, started: list[CliProcess], extra: list[str], storage: str
) -> None:
    port = free_port()
    db = tmp_path / "rivet.db"
    process = CliProcess(REGISTRY, "--port", str(port), "--db", str(db), *extra)
    started.append(process)
    line = process.wait_for("rivet-dsl: serving")
    assert line == f"rivet-dsl: serving {REGISTRY} on http://127.0.0.1:{port} (storage: {storage.format(db=db)})"
    # Printed once the socket listens: the server answers right away, no retry needed.
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5.0).status_code == 200
    assert process.finish() == 0
    assert [text for text in process.lines if "rivet-dsl: serving" in text] == [line]
    assert not any("Uvicorn running" in text for text in process.lines), process.lines


def test_port_zero_reports_the_port_actually_bound(tmp_path: Path, started: list[CliProcess]) -> None:
    process = CliProcess(REGISTRY, "--port", "0", "--db", str(tmp_path / "rivet.db"))
    started.append(process)
    line = process.wait_for("rivet-dsl: serving")
    url = line.split(" on ", 1)[1].split(" ", 1)[0]
    assert url.startswith("http://127.0.0.1:")
    assert int(url.rsplit(":", 1)[1]) > 0
    assert httpx.get(f"{url}/health", timeout=5.0).status_code == 200


def test_at_info_level_uvicorn_announces_it_and_the_cli_adds_no_second_line(
    tmp_path: Path, started: list[CliProcess]
) -> None:
    port = free_port()
    process = CliProcess(REGISTRY, "--port", str(port), "--db", str(tmp_path / "rivet.db"), "--log-level", "info")
    started.append(process)
    process.wait_for(f"Uvicorn running on http://127.0.0.1:{port}")
    assert process.finish() == 0
    assert not any("rivet-dsl: serving" in text for text in process.lines), process.lines
