"""The in-process client transport: a :class:`Client` that calls a :class:`Runtime` directly.

Arguments and bodies are turned into plain data first, exactly as the HTTP transport would
put them on the wire, and action calls and queue sends run on a connection of their own, with
the handle's connection params, as HTTP requests do (``Runtime.request_call``/``request_send``),
so tests over this transport see what a remote client would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import RivetError
from ..client import ActorError, ActorTarget, ConnStatus, EventCallback, QueueSendResult, TransportConnection
from ._codec import to_builtins
from ._connection import Conn

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["InProcessTransport"]


class _InProcessConnection:
    def __init__(self, runtime: Runtime, actor_id: str, on_close: Callable[[ActorError | None], None]) -> None:
        self.runtime = runtime
        self.actor_id = actor_id
        self.conn: Conn | None = None
        self.connection_id = ""
        self._on_close = on_close
        #: A connection to an actor in the same process never drops and reconnects: it is
        #: connected until either side closes it.
        self.status: ConnStatus = "connected"
        self.on_status: Callable[[ConnStatus], None] | None = None

    def _closed(self) -> None:
        if self.status != "disconnected":
            self.status = "disconnected"
            if self.on_status is not None:
                self.on_status("disconnected")
        self._on_close(None)

    async def action(self, name: str, args: list[Any]) -> Any:
        if self.conn is None or self.conn.closed:
            raise ActorError("client", "connection_closed", "the connection is closed")
        try:
            return await self.runtime.conn_call(self.actor_id, self.conn, name, to_builtins(args))
        except RivetError as exc:
            raise ActorError.from_error(exc) from None

    def subscribe(self, event: str, subscribe: bool) -> None:
        if self.conn is None:
            return
        if subscribe:
            self.conn.subscriptions.add(event)
        else:
            self.conn.subscriptions.discard(event)

    def server_closed(self, reason: str | None) -> None:
        self._closed()

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.closed:
            await self.runtime.disconnect(self.actor_id, conn)
        self._closed()


class InProcessTransport:
    """Implements :class:`rivet_dsl.client.Transport` over a runtime in the same process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def resolve(self, target: ActorTarget) -> str:
        try:
            return await self._resolve(target)
        except RivetError as exc:
            raise ActorError.from_error(exc) from None

    async def _resolve(self, target: ActorTarget) -> str:
        if target.method == "id":
            assert target.actor_id is not None
            return target.actor_id
        if target.method == "get":
            return (await self.runtime.get(target.name, target.key)).actor_id
        return (await self.runtime.get_or_create(target.name, target.key, to_builtins(target.input))).actor_id

    async def create(self, name: str, key: tuple[str, ...], input: Any) -> str:
        try:
            return (await self.runtime.create(name, key, to_builtins(input))).actor_id
        except RivetError as exc:
            raise ActorError.from_error(exc) from None

    async def action(self, target: ActorTarget, name: str, args: list[Any], *, params: Any = None) -> Any:
        try:
            actor_id = await self._resolve(target)
            return await self.runtime.request_call(actor_id, name, to_builtins(args), to_builtins(params))
        except RivetError as exc:
            raise ActorError.from_error(exc) from None

    async def send(
        self, target: ActorTarget, name: str, body: Any, *, wait: bool, timeout: float | None, params: Any = None
    ) -> QueueSendResult[Any]:
        try:
            actor_id = await self._resolve(target)
            return await self.runtime.request_send(
                actor_id, name, to_builtins(body), wait=wait, timeout=timeout, params=to_builtins(params)
            )
        except RivetError as exc:
            raise ActorError.from_error(exc) from None

    async def connect(
        self,
        target: ActorTarget,
        params: Any,
        on_event: EventCallback,
        on_close: Callable[[ActorError | None], None],
    ) -> TransportConnection:
        connection = _InProcessConnection(self.runtime, "", on_close)
        try:
            actor_id = await self._resolve(target)
            connection.actor_id = actor_id
            connection.conn = await self.runtime.connect(actor_id, to_builtins(params), on_event, connection.server_closed)
            connection.connection_id = connection.conn.id
        except RivetError as exc:
            raise ActorError.from_error(exc) from None
        return connection

    async def destroy(self, target: ActorTarget) -> None:
        try:
            await self.runtime.destroy(await self._resolve(target))
        except RivetError as exc:
            raise ActorError.from_error(exc) from None

    async def aclose(self) -> None:
        return None
