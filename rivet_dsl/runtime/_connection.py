"""Connections: a client's stateful link to an actor, which receives events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ._codec import to_builtins

__all__ = ["Conn", "EventSink"]

#: Delivers ``(event_name, args)`` to the client side of a connection (a WebSocket, or the
#: in-process client). Must not block.
EventSink = Callable[[str, list[Any]], None]


class Conn:
    """One open connection. ``state`` is the per-connection state from ``create_conn_state``."""

    __slots__ = ("_close", "_id", "_sink", "closed", "params", "state", "subscriptions")

    def __init__(self, params: Any, sink: EventSink, close: Callable[[str | None], object] | None = None) -> None:
        self._id: str | None = None
        self.params = params
        self.state: Any = None
        self.subscriptions: set[str] = set()
        self.closed = False
        self._sink = sink
        self._close = close

    @property
    def id(self) -> str:
        """A UUID, made when first asked for: the connection of a stateless call to an actor
        with no connection hooks usually never is (a uuid4 costs more than the rest of it)."""
        if self._id is None:
            self._id = str(uuid.uuid4())
        return self._id

    def send(self, event: str, payload: Any) -> None:
        """Send an event to this connection only."""
        if not self.closed:
            self._sink(event, [to_builtins(payload)])

    def deliver(self, event: str, args: list[Any]) -> None:
        """Send already-encoded event arguments (broadcast path: encoded once for every conn)."""
        if not self.closed:
            self._sink(event, args)

    def disconnect(self, reason: str | None = None) -> None:
        """Ask the transport to close this connection."""
        if self._close is not None and not self.closed:
            self._close(reason)

    def __repr__(self) -> str:
        return f"<Conn {self.id}>"
