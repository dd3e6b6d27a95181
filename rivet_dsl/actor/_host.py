"""The seam between user actor classes and the runtime.

An :class:`~rivet_dsl.Actor` instance holds one host object (``self._rivet``); every
attribute that reaches outside plain Python (state, queues, connections, schedules, the
client) goes through it. The runtime's live-actor object implements this protocol; the actor
package never imports the runtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..client import Client
    from ..runtime._connection import Conn
    from ..runtime._queue import ActorQueue
    from ..runtime._schedule import Schedule

__all__ = ["ActorHost"]


class ActorHost(Protocol):
    """What an actor instance needs from the runtime."""

    actor_id: str
    name: str
    key: tuple[str, ...]
    log: logging.Logger

    def get_state(self) -> Any: ...

    def set_state(self, value: Any) -> None: ...

    def current_conn(self) -> Conn | None: ...

    def conns(self) -> Mapping[str, Conn]: ...

    @property
    def schedule(self) -> Schedule: ...

    @property
    def queue(self) -> ActorQueue: ...

    @property
    def aborted(self) -> asyncio.Event: ...

    def client(self) -> Client: ...

    def request_destroy(self) -> None: ...

    async def enqueue(self, name: str, body: Any) -> None: ...

    def broadcast(self, name: str, payload: Any) -> None: ...

    def send_event(self, conn: Conn, name: str, payload: Any) -> None: ...

    async def save_state(self) -> None: ...
