"""An action that closes its own WebSocket connection still gets its reply, then the close.

Before, the close was queued ahead of the reply (the action was still running when the actor
closed the connection: ``self.conn.disconnect()``, ``self.destroy()``), so the client saw the
socket close and its call failed with "connection closed" although the action had succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rivet_dsl import Actor, action, setup

from ._harness import ServerProcess
from .test_websocket import Wire, protocols

pytestmark = pytest.mark.anyio


class Door(Actor[None], name="door"):
    @action
    def leave(self) -> str:
        assert self.conn is not None
        self.conn.disconnect("bye")
        return "left"

    @action
    def demolish(self) -> str:
        self.destroy()
        return "demolished"


registry = setup(Door)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db: Path = tmp_path_factory.mktemp("wire_close") / "rivet.db"
    process = ServerProcess(db, registry="tests.server.test_wire_close:registry").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("encoding", ["json", "cbor"])
@pytest.mark.parametrize(("name", "output"), [("leave", "left"), ("demolish", "demolished")])
async def test_the_action_that_closes_the_connection_is_answered_first(
    server: ServerProcess, encoding: str, name: str, output: str
) -> None:
    url = f"ws://127.0.0.1:{server.port}/gateway/door/connect?rvt-method=getOrCreate&rvt-key={uuid.uuid4().hex}"
    async with connect(url, subprotocols=protocols(encoding)) as ws:
        wire = Wire(ws, encoding)
        assert (await wire.recv())[0] == "Init"
        await wire.send_action(7, name, [])
        tag, val = await wire.recv()
        assert tag == "ActionResponse" and wire.action_id(val) == 7 and val["output"] == output
        with pytest.raises(ConnectionClosed) as closed:
            await wire.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
