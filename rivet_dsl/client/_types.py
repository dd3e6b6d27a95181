"""Value types shared by every client transport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from .._errors import RivetError

__all__ = ["ActorError", "ActorTarget", "ConnStatus", "QueueSendResult"]

#: A connection's status, with RivetKit's names: ``idle`` (not opened yet), ``connecting``
#: (opening, or reconnecting after a lost socket), ``connected``, ``disconnected`` (for good).
ConnStatus = Literal["idle", "connecting", "connected", "disconnected"]

ResponseT = TypeVar("ResponseT")


class ActorError(RivetError):
    """Every failure a client sees: ``group``, ``code``, ``message`` and ``metadata`` as the
    actor (or the transport, with group ``client``) reported them."""

    default_group = "client"
    default_code = "error"

    def __init__(self, group: str, code: str, message: str, metadata: Any = None, status: int | None = None) -> None:
        super().__init__(message, group=group, code=code, metadata=metadata, status=status)

    @classmethod
    def from_error(cls, error: RivetError) -> ActorError:
        """The client-side form of a runtime error; non-public errors are masked."""
        if isinstance(error, ActorError):
            return error
        if not error.public:
            return cls("rivetkit", "internal_error", "An internal error occurred", None, 500)
        return cls(error.group, error.code, error.message, error.metadata, error.status)


@dataclass(frozen=True, slots=True)
class QueueSendResult(Generic[ResponseT]):
    """The outcome of a queue send: ``completed`` (with ``response`` when waited) or ``timed_out``."""

    status: Literal["completed", "timed_out"]
    response: ResponseT | None = None


@dataclass(frozen=True, slots=True)
class ActorTarget:
    """How a handle addresses its actor: by name and key (``get`` / ``getOrCreate``) or by id."""

    name: str
    key: tuple[str, ...] = ()
    method: Literal["get", "getOrCreate", "id"] = "getOrCreate"
    input: Any = None
    actor_id: str | None = None
