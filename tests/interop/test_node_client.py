"""RivetKit's official TypeScript client (rivetkit/client 2.3.19 from npm) against our server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server._harness import ServerProcess

from ._node import ensure_node_modules

# The first run installs rivetkit from npm (~2.5 min): allow more than the default timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def node_dir() -> Path:
    return ensure_node_modules()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("interop") / "rivet.db").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("encoding", ["json", "cbor"])
def test_official_client_against_rivet_dsl(node_dir: Path, server: ServerProcess, encoding: str) -> None:
    result = subprocess.run(
        ["node", "interop.mjs", server.url, encoding, f"node-{encoding}"],
        cwd=node_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no output; stderr: {result.stderr[-3000:]}"
    out = json.loads(lines[-1])
    assert result.returncode == 0, out.get("failure")
    assert out["increment"] == 5 and out["increment2"] == 7 and out["getCount"] == 7
    assert out["echo"] == {"nested": [1, "two", None, True], "n": 1.5}
    assert out["userError"] == {"group": "user", "code": "forbidden_thing", "message": "not allowed", "metadata": {"why": "test"}}
    assert out["internalError"] == {"group": "rivetkit", "code": "internal_error", "message": "An internal error occurred"}
    assert out["sendWait"] == {"status": "completed", "response": {"doubled": 42}}
    assert out["sendTimedOut"] == {"status": "timedOut"}
    assert out["rrState"] == {"handled": 2}  # the no-wait send and the waited one
    assert out["wsIncrement"] == 8 and out["wsIncrement2"] == 18
    assert out["wsUserError"] == {"group": "user", "code": "forbidden_thing", "message": "not allowed"}
    assert out["events"] == [8, 18]
    assert len(out["resolvedId"]) == 30 and out["byId"] == 18
