"""Contract fuzzing: schemathesis drives a live ``rivet-dsl serve`` with the generated OpenAPI spec.

Every generated request must get a documented status (no 5xx) with a body that conforms to the
spec. The server runs in a subprocess on a free port with a temporary database. The number of
examples per operation is small here (``make test``); ``make fuzz`` raises it with
``RIVET_FUZZ_EXAMPLES``. ``RIVET_FUZZ_REGISTRY`` picks the registry (all examples by default).
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from codegen import render_files

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = os.environ.get("RIVET_FUZZ_REGISTRY", "examples.app:registry")
EXAMPLES = int(os.environ.get("RIVET_FUZZ_EXAMPLES", "8"))
#: The fuzz copy of the spec bounds queue waits so a message nobody consumes costs milliseconds.
MAX_WAIT_MS = 50
STARTUP_TIMEOUT = 30.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A running server: its base URL and everything it logged so far."""

    def __init__(self, url: str, log: list[str]) -> None:
        self.url = url
        self.log = log

    def log_tail(self, lines: int = 60) -> str:
        return "".join(self.log[-lines:])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``python -m rivet_dsl.server REGISTRY --port P --db TMP`` (what ``rivet-dsl serve`` runs)."""
    port = _free_port()
    db = tmp_path_factory.mktemp("fuzz") / "rivet.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rivet_dsl.server", REGISTRY, "--port", str(port), "--db", str(db), "--log-level", "info"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    # Readiness is read from uvicorn's startup line, not polled; a timer kills a server that hangs.
    killer = threading.Timer(STARTUP_TIMEOUT, proc.kill)
    killer.start()
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "Application startup complete" in line or "Uvicorn running on" in line:
                break
        else:
            pytest.fail(f"the server exited before it was ready:\n{''.join(lines)}")
    finally:
        killer.cancel()
    # Keep draining stderr so the server never blocks on a full pipe.
    drain = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    drain.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        drain.join(timeout=15)
        proc.stderr.close()


def fuzz_document(document: dict[str, Any]) -> dict[str, Any]:
    """The generated spec, narrowed for fuzzing: actors addressed by name and key (`rvt-method`
    and `rvt-key` required, `{actor}` one of the operation's actors) and queue waits bounded.

    A non-empty `rvt-key` is required because the examples assume keyed actors (`RoomList` reads
    `self.key[0]`): an unkeyed call of such an actor is an example bug, not a contract question.
    """
    document = copy.deepcopy(document)
    for item in document["paths"].values():
        operation = item["post"]
        actor, method, key = operation["parameters"]
        actor["schema"] = {"type": "string", "enum": sorted(actor["examples"])}
        method["required"] = True
        key["required"] = True
        key["schema"] = {"type": "string", "minLength": 1}
        content = operation["requestBody"]["content"]["application/json"]
        body = content["schema"] = _request_side(content["schema"])
        if "timeout" in body["properties"]:
            body["properties"]["timeout"]["maximum"] = MAX_WAIT_MS
            body["required"] = ["body", "timeout"]
    schemas = document["components"]["schemas"]
    for name in list(schemas):
        if name != "RivetError":
            schemas[name + _REQUEST] = _request_side(schemas[name])
    schemas["JsonCompatBigInt" + _REQUEST]["prefixItems"][1]["pattern"] = "^-?[0-9]{1,18}$"
    return document


_REQUEST = "__request"
_PREFIX = "#/components/schemas/"


def _request_side(node: Any) -> Any:
    """A request-side copy of a schema whose integers stay inside int64: the runtime stores
    state and arguments as MessagePack, and a larger integer currently makes the server answer
    500 (reported). Responses keep the generated schemas unchanged."""
    if isinstance(node, list):
        return [_request_side(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _request_side(value) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(_PREFIX):
        out["$ref"] = ref + _REQUEST
    if out.get("type") == "integer":
        out.setdefault("minimum", -(2**63))
        out.setdefault("maximum", 2**63 - 1)
    return out


_DOCUMENT = fuzz_document(json.loads(render_files(REGISTRY).openapi))
_SCHEMA = schemathesis.openapi.from_dict(_DOCUMENT)


def test_fuzz_document_is_still_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(_DOCUMENT)


@pytest.mark.parametrize("path", sorted(_DOCUMENT["paths"]))
def test_contract_fuzz(server: LiveServer, path: str) -> None:
    operation = _SCHEMA.find_operation_by_path("POST", path)
    assert operation is not None

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=server.url, timeout=15)
        case.validate_response(response, checks=CHECKS)

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a FailureGroup
        raise AssertionError(f"{path}: {exc}\n--- server log (tail) ---\n{server.log_tail()}") from exc


@pytest.mark.anyio
async def test_committed_clients_over_http(server: LiveServer) -> None:
    """The committed generated clients talk to the live server over HTTP and WebSocket."""
    if REGISTRY != "examples.app:registry":
        pytest.fail("this test needs the examples.app registry (unset RIVET_FUZZ_REGISTRY)")
    from generated.chat_room import Client as ChatClient
    from generated.chat_room import Message
    from generated.counter import Client as CounterClient
    from generated.counter_worker import Client as WorkerClient
    from generated.counter_worker import Mutate

    async with CounterClient(server.url) as client:
        counter = client.counter.get_or_create(["http-e2e"])
        assert await counter.increment() == 1
        assert await counter.increment(amount=4) == 5
        assert await counter.get_count() == 5
        async with counter.connect() as conn:
            assert await conn.increment(2) == 7
    async with ChatClient(server.url) as chat_client:
        room = chat_client.chat_room.get_or_create(["http-e2e"])
        async with room.connect({"user_id": "ada"}) as chat:
            message = await chat.send_message("hello")
        assert message == Message(user="ada", text="hello")
        assert await room.get_history() == [message]
    async with WorkerClient(server.url) as worker_client:
        worker = worker_client.counter_worker.get_or_create("http-e2e")
        result = await worker.queues.mutate.send(Mutate(delta=3), wait=True, timeout=5.0)
        assert result.status == "completed"
        assert await worker.get_value() == 3
