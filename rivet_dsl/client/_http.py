"""HTTP and WebSocket transport (RivetKit 2.3 gateway protocol)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from ._transport import EventCallback, TransportConnection
from ._types import ActorError, ActorTarget, QueueSendResult

__all__ = ["HttpTransport"]


class HttpTransport:
    """Talks to a ``rivet-dsl serve`` server (or RivetKit) over HTTP and WebSocket."""

    def __init__(self, endpoint: str, *, encoding: Literal["json", "cbor"] = "json", token: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.encoding = encoding
        self.token = token

    def _unavailable(self) -> ActorError:
        return ActorError("client", "transport_unavailable", "the HTTP transport is not available yet")

    async def resolve(self, target: ActorTarget) -> str:
        raise self._unavailable()

    async def create(self, name: str, key: tuple[str, ...], input: Any) -> str:
        raise self._unavailable()

    async def action(self, target: ActorTarget, name: str, args: list[Any]) -> Any:
        raise self._unavailable()

    async def send(
        self, target: ActorTarget, name: str, body: Any, *, wait: bool, timeout: float | None
    ) -> QueueSendResult[Any]:
        raise self._unavailable()

    async def connect(
        self,
        target: ActorTarget,
        params: Any,
        on_event: EventCallback,
        on_close: Callable[[ActorError | None], None],
    ) -> TransportConnection:
        raise self._unavailable()

    async def destroy(self, target: ActorTarget) -> None:
        raise self._unavailable()

    async def aclose(self) -> None:
        return None
