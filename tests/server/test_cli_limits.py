"""``rivet-dsl serve --max-incoming-bytes N --max-outgoing-bytes N``: the server's message
limits (``build_app(max_body=..., max_outgoing=...)``, 64 KiB and 1 MiB by default) set from
the command line.

Before, the CLI had no such flags: a server started from it always ran with the defaults (and
``--max-incoming-bytes`` was refused as an unknown argument).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rivet_dsl.cli_serve import serve_main

from ._harness import ROOT, ServerProcess

#: Far under the defaults, so a server that ignored the flags would accept what these refuse.
MAX_INCOMING = 2048
MAX_OUTGOING = 4096
#: ``{"args":["…"]}`` around the string.
ARGS_FRAMING = len(b'{"args":[""]}')


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db: Path = tmp_path_factory.mktemp("cli-limits") / "rivet.db"
    process = ServerProcess(
        db, extra=["--max-incoming-bytes", str(MAX_INCOMING), "--max-outgoing-bytes", str(MAX_OUTGOING)]
    ).start()
    try:
        yield process
    finally:
        process.stop()


def _action_url(server: ServerProcess, name: str) -> str:
    key = uuid.uuid4().hex[:12]
    return f"{server.url}/gateway/counter/action/{name}?rvt-namespace=default&rvt-method=getOrCreate&rvt-key={key}"


def _echo_body(size: int) -> bytes:
    """A JSON action body of exactly ``size`` bytes."""
    body = b'{"args":["' + b"x" * (size - ARGS_FRAMING) + b'"]}'
    assert len(body) == size
    return body


def test_a_body_just_over_the_incoming_limit_is_refused(limited: ServerProcess) -> None:
    url = _action_url(limited, "echo")
    refused = httpx.post(url, content=_echo_body(MAX_INCOMING + 1), headers={"content-type": "application/json"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["group"] == "message"
    assert refused.json()["code"] == "incoming_too_long"
    assert refused.json()["metadata"] == {"limit": MAX_INCOMING}
    accepted = httpx.post(url, content=_echo_body(MAX_INCOMING), headers={"content-type": "application/json"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"output": "x" * (MAX_INCOMING - ARGS_FRAMING)}


def test_a_response_over_the_outgoing_limit_is_refused(limited: ServerProcess) -> None:
    refused = httpx.post(_action_url(limited, "big"), json={"args": [MAX_OUTGOING + 1]})
    assert refused.status_code == 400, refused.text
    assert (refused.json()["group"], refused.json()["code"]) == ("message", "outgoing_too_long")
    assert refused.json()["metadata"] == {"limit": MAX_OUTGOING}
    fits = httpx.post(_action_url(limited, "big"), json={"args": [MAX_OUTGOING - 64]})
    assert fits.status_code == 200, fits.text


@pytest.mark.parametrize("flag", ["--max-incoming-bytes", "--max-outgoing-bytes"])
@pytest.mark.parametrize("value", ["0", "-5", "1.5", "lots", ""])
def test_a_limit_that_is_not_a_positive_whole_number_is_a_usage_error(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        serve_main(["tests.server.actors:registry", flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: expected a positive whole number of bytes, got {value!r}" in err


def test_registry_serve_takes_the_same_limits(tmp_path: Path) -> None:
    """``registry.serve(max_body=..., max_outgoing=...)``, the in-code way to start a server,
    sets the same limits as the CLI flags (before, it took neither)."""
    process = ServerProcess(tmp_path / "rivet.db")
    code = (
        "from tests.server.actors import registry; "
        f"registry.serve(port={process.port}, db={str(process.db)!r}, "
        f"max_body={MAX_INCOMING}, max_outgoing={MAX_OUTGOING})"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    with open(process.log_path, "ab") as log:
        process.proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        process.wait_ready()
        url = _action_url(process, "echo")
        refused = httpx.post(url, content=_echo_body(MAX_INCOMING + 1), headers={"content-type": "application/json"})
        assert (refused.status_code, refused.json()["code"]) == (400, "incoming_too_long"), refused.text
        too_big = httpx.post(_action_url(process, "big"), json={"args": [MAX_OUTGOING + 1]})
        assert (too_big.status_code, too_big.json()["code"]) == (400, "outgoing_too_long"), too_big.text
    finally:
        process.stop()
