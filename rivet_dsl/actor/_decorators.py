"""Method decorators: ``@action``, ``@queue``, ``@event`` and ``@workflow``.

Decorators only *mark* methods (or wrap declaration-only methods in typed descriptors); the
``Actor`` base class validates everything and builds the frozen definition when the class is
created. Nothing is registered globally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:
    from ..runtime._connection import Conn

__all__ = [
    "ActionMarker",
    "EventDeclaration",
    "EventRef",
    "QueueDeclaration",
    "QueueRef",
    "action",
    "event",
    "queue",
    "workflow",
]

F = TypeVar("F", bound=Callable[..., Any])
BodyT = TypeVar("BodyT")
ResponseT = TypeVar("ResponseT")
PayloadT = TypeVar("PayloadT")

ACTION_ATTR = "__rivet_action__"
WORKFLOW_ATTR = "__rivet_workflow__"


class ActionMarker:
    """What ``@action`` records on a method: its wire name and timeout override."""

    __slots__ = ("name", "timeout")

    def __init__(self, name: str | None, timeout: float | None) -> None:
        self.name = name
        self.timeout = timeout


@overload
def action(fn: F, /) -> F: ...


@overload
def action(*, name: str | None = None, timeout: float | None = None) -> Callable[[F], F]: ...


def action(
    fn: F | None = None, /, *, name: str | None = None, timeout: float | None = None
) -> F | Callable[[F], F]:
    """Mark a method as an action callable by clients.

    Parameters and the return value must be typed: arguments arriving over the wire are
    validated against the hints before the method runs (``invalid_arguments`` otherwise).

    Example:
        >>> class Counter(Actor[CounterState]):
        ...     @action
        ...     async def increment(self, amount: int) -> int: ...
        ...     @action(name="get", timeout=5.0)
        ...     def get_count(self) -> int: ...
    """

    def mark(method: F) -> F:
        setattr(method, ACTION_ATTR, ActionMarker(name, timeout))
        return method

    if fn is not None:
        return mark(fn)
    return mark


def workflow(fn: F) -> F:
    """Mark ``async def run(self, ctx: WorkflowContext) -> None`` as the durable run handler."""
    setattr(fn, WORKFLOW_ATTR, True)
    return fn


class QueueDeclaration(Generic[BodyT, ResponseT]):
    """A queue declared on an actor class; on an instance it becomes a :class:`QueueRef`."""

    __slots__ = ("attr", "fn", "max_size", "name")

    def __init__(self, fn: Callable[[Any, BodyT], ResponseT], name: str | None, max_size: int | None) -> None:
        self.fn = fn
        self.attr: str = fn.__name__
        self.name: str = name if name is not None else fn.__name__
        self.max_size = max_size

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> QueueDeclaration[BodyT, ResponseT]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> QueueRef[BodyT, ResponseT]: ...

    def __get__(
        self, obj: object | None, owner: type | None = None
    ) -> QueueDeclaration[BodyT, ResponseT] | QueueRef[BodyT, ResponseT]:
        if obj is None:
            return self
        return QueueRef(self.name, obj)

    def __repr__(self) -> str:
        return f"<queue {self.name!r}>"


class QueueRef(Generic[BodyT, ResponseT]):
    """A queue of a live actor: send to it, or pass it where a queue name is accepted."""

    __slots__ = ("_owner", "name")

    def __init__(self, name: str, owner: object) -> None:
        self.name = name
        self._owner = owner

    async def send(self, body: BodyT) -> None:
        """Enqueue ``body`` on this actor's queue; returns once the message is durable."""
        await self._owner._rivet.enqueue(self.name, body)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<QueueRef {self.name!r}>"


@overload
def queue(fn: Callable[[Any, BodyT], ResponseT], /) -> QueueDeclaration[BodyT, ResponseT]: ...


@overload
def queue(
    *, name: str | None = None, max_size: int | None = None
) -> Callable[[Callable[[Any, BodyT], ResponseT]], QueueDeclaration[BodyT, ResponseT]]: ...


def queue(
    fn: Callable[[Any, BodyT], ResponseT] | None = None,
    /,
    *,
    name: str | None = None,
    max_size: int | None = None,
) -> (
    QueueDeclaration[BodyT, ResponseT]
    | Callable[[Callable[[Any, BodyT], ResponseT]], QueueDeclaration[BodyT, ResponseT]]
):
    """Declare a durable queue. The method body is ``...``; its one parameter is the message
    body type and its return annotation the response type (``None``: nothing to answer).

    Example:
        >>> @queue
        ... def requests(self, body: Request) -> Doubled: ...
        >>> @queue(name="cron-tick", max_size=100)
        ... def cron_tick(self, body: Tick) -> None: ...
    """

    def declare(method: Callable[[Any, BodyT], ResponseT]) -> QueueDeclaration[BodyT, ResponseT]:
        return QueueDeclaration(method, name, max_size)

    if fn is not None:
        return declare(fn)
    return declare


class EventDeclaration(Generic[PayloadT]):
    """An event declared on an actor class; on an instance it becomes an :class:`EventRef`."""

    __slots__ = ("attr", "fn", "name")

    def __init__(self, fn: Callable[[Any, PayloadT], None], name: str | None) -> None:
        self.fn = fn
        self.attr: str = fn.__name__
        self.name: str = name if name is not None else fn.__name__

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> EventDeclaration[PayloadT]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> EventRef[PayloadT]: ...

    def __get__(
        self, obj: object | None, owner: type | None = None
    ) -> EventDeclaration[PayloadT] | EventRef[PayloadT]:
        if obj is None:
            return self
        return EventRef(self.name, obj)

    def __repr__(self) -> str:
        return f"<event {self.name!r}>"


class EventRef(Generic[PayloadT]):
    """An event of a live actor: call it to broadcast, or ``send_to`` one connection."""

    __slots__ = ("_owner", "name")

    def __init__(self, name: str, owner: object) -> None:
        self.name = name
        self._owner = owner

    def __call__(self, payload: PayloadT) -> None:
        """Broadcast ``payload`` to every connection subscribed to this event."""
        self._owner._rivet.broadcast(self.name, payload)  # type: ignore[attr-defined]

    def send_to(self, conn: Conn, payload: PayloadT) -> None:
        """Send ``payload`` to one connection (whether or not it subscribed)."""
        self._owner._rivet.send_event(conn, self.name, payload)  # type: ignore[attr-defined]

    def send_to_many(self, conns: Iterable[Conn], payload: PayloadT) -> None:
        """Send ``payload`` to each of ``conns``."""
        for conn in conns:
            self.send_to(conn, payload)

    def __repr__(self) -> str:
        return f"<EventRef {self.name!r}>"


@overload
def event(fn: Callable[[Any, PayloadT], None], /) -> EventDeclaration[PayloadT]: ...


@overload
def event(
    *, name: str | None = None
) -> Callable[[Callable[[Any, PayloadT], None]], EventDeclaration[PayloadT]]: ...


def event(
    fn: Callable[[Any, PayloadT], None] | None = None, /, *, name: str | None = None
) -> EventDeclaration[PayloadT] | Callable[[Callable[[Any, PayloadT], None]], EventDeclaration[PayloadT]]:
    """Declare an event. The method body is ``...``; its one parameter is the payload type.

    Example:
        >>> @event
        ... def progress_updated(self, progress: Progress) -> None: ...
        >>> # in an action or step:
        >>> self.progress_updated(Progress(stage="running", completed=0, total=3))
    """

    def declare(method: Callable[[Any, PayloadT], None]) -> EventDeclaration[PayloadT]:
        return EventDeclaration(method, name)

    if fn is not None:
        return declare(fn)
    return declare
