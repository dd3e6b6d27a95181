"""One database, one server: real ``python -m rivet_dsl.server`` processes on a real file.

A second server on a database another one serves exits at once, non-zero, with a plain
``storage/database_in_use`` message naming the file and the owner's pid (no traceback); a store
in another process is refused likewise. The lock dies with its process, so a server killed
with SIGKILL is restarted on its database at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rivet_dsl import StorageError
from rivet_dsl.storage import SqliteStorage
from tests.server._harness import ROOT, ServerProcess

QUERY = "?rvt-method=getOrCreate&rvt-key=shared"


def call(server: ServerProcess, name: str, *args: object) -> object:
    response = httpx.post(f"{server.url}/gateway/counter/action/{name}{QUERY}", json={"args": list(args)}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["output"]


def second_server(db: Path) -> subprocess.CompletedProcess[str]:
    """Start another server on ``db``; it must exit by itself (a bounded wait, not a sleep)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "rivet_dsl.server", "tests.server.actors:registry", "--port", "0", "--db", str(db)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("a second server on a database in use was not refused: it kept running")
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


async def refused_here(db: Path, owner_pid: int) -> None:
    store = SqliteStorage(db)
    with pytest.raises(StorageError) as info:
        await store.open()
    assert info.value.code == "database_in_use"
    assert str(db) in info.value.message and f"process {owner_pid}" in info.value.message


@pytest.mark.slow
async def test_second_server_on_the_same_database_exits_with_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "rivet.db"
    first = ServerProcess(db).start()
    try:
        assert first.proc is not None
        for _ in range(10):
            call(first, "increment", 1)
        result = second_server(db)
        assert result.returncode != 0
        assert "storage/database_in_use" in result.stderr, result.stderr
        assert str(db) in result.stderr and f"process {first.proc.pid}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        # A store in another process (this one) is refused too; the owner serves on.
        await refused_here(db, first.proc.pid)
        for _ in range(10):
            call(first, "increment", 1)
        assert call(first, "getCount") == 20
    finally:
        first.stop()
    # Stopped: the database is free, and every acknowledged increment is in it.
    restarted = ServerProcess(db).start()
    try:
        assert call(restarted, "getCount") == 20
    finally:
        restarted.stop()


@pytest.mark.slow
async def test_a_server_killed_with_sigkill_is_restarted_on_its_database_at_once(tmp_path: Path) -> None:
    db = tmp_path / "rivet.db"
    first = ServerProcess(db).start()
    try:
        for _ in range(5):
            call(first, "increment", 1)
    finally:
        first.kill()  # no shutdown, no release: the OS drops the lock with the process
    restarted = ServerProcess(db).start()
    try:
        assert restarted.proc is not None
        assert call(restarted, "getCount") == 5
        await refused_here(db, restarted.proc.pid)
    finally:
        restarted.stop()
    async with SqliteStorage(db) as store:  # a graceful stop released it as well
        assert await store.find_actor("counter", "shared") is not None


async def test_a_server_whose_startup_is_refused_exits_non_zero(tmp_path: Path) -> None:
    """The store refuses inside the server's startup (two servers started at the same moment
    both pass the CLI's early check): the process still fails, with uvicorn's startup-failure
    status (3), and no request is ever served from the refused store."""
    db = tmp_path / "rivet.db"
    owner = SqliteStorage(db)
    await owner.open()
    try:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        script = (
            "import sys\n"
            "from rivet_dsl.server import build_app, run_app\n"
            "from tests.server.actors import registry\n"
            "run_app(build_app(registry, db=sys.argv[1]), host='127.0.0.1', port=0)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", script, str(db)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 3, proc.stderr
        assert "database_in_use" in proc.stderr or "in use" in proc.stderr
    finally:
        await owner.close()
