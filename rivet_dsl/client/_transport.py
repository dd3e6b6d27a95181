"""The transport protocol: how a :class:`~rivet_dsl.client.Client` reaches actors.

Implementations: the in-process transport (``TestEnvironment``, ``self.client()`` inside
actors) and the HTTP/WebSocket transport (a ``rivet-dsl serve`` server or RivetKit itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ._types import ActorError, ActorTarget, ConnStatus, QueueSendResult

__all__ = ["EventCallback", "Transport", "TransportConnection"]

#: Receives ``(event_name, args)`` for every event the connection gets.
EventCallback = Callable[[str, list[Any]], None]


class TransportConnection(Protocol):
    """One open connection as the transport sees it."""

    actor_id: str
    connection_id: str
    #: Where the connection stands (``connected`` once returned by ``Transport.connect``).
    status: ConnStatus
    #: Called with the new status on every change after ``connect`` returned (a reconnect).
    on_status: Callable[[ConnStatus], None] | None

    async def action(self, name: str, args: list[Any]) -> Any: ...

    def subscribe(self, event: str, subscribe: bool) -> None: ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """What a client needs from the network (or from an in-process runtime)."""

    async def resolve(self, target: ActorTarget) -> str: ...

    async def create(self, name: str, key: tuple[str, ...], input: Any) -> str: ...

    # ``params``: the connection params of the call's own connection (``None``: anonymous);
    # over HTTP the ``x-rivet-conn-params`` header.
    async def action(self, target: ActorTarget, name: str, args: list[Any], *, params: Any = None) -> Any: ...

    async def send(
        self, target: ActorTarget, name: str, body: Any, *, wait: bool, timeout: float | None, params: Any = None
    ) -> QueueSendResult[Any]: ...

    async def connect(
        self,
        target: ActorTarget,
        params: Any,
        on_event: EventCallback,
        on_close: Callable[[ActorError | None], None],
    ) -> TransportConnection: ...

    async def destroy(self, target: ActorTarget) -> None: ...

    async def aclose(self) -> None: ...
