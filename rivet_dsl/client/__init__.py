"""The runtime client: ``Client``, handles, connections and ``ActorError``.

Generated typed clients import only this module (and msgspec).
"""

from __future__ import annotations

from ._client import ActorConnection as ActorConnection
from ._client import ActorHandle as ActorHandle
from ._client import Client as Client
from ._transport import EventCallback as EventCallback
from ._transport import Transport as Transport
from ._transport import TransportConnection as TransportConnection
from ._types import ActorError as ActorError
from ._types import ActorTarget as ActorTarget
from ._types import ConnStatus as ConnStatus
from ._types import QueueSendResult as QueueSendResult

__all__ = [
    "ActorConnection",
    "ActorError",
    "ActorHandle",
    "ActorTarget",
    "Client",
    "ConnStatus",
    "EventCallback",
    "QueueSendResult",
    "Transport",
    "TransportConnection",
]
