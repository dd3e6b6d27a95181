"""The untyped runtime client: ``Client``, actor handles and connections.

The same API works over any transport: in-process (tests, actor-to-actor calls) or HTTP and
WebSocket against a ``rivet-dsl serve`` server or RivetKit. Generated typed clients wrap it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from .._errors import RivetError
from ._transport import Transport, TransportConnection
from ._types import ActorError, ActorTarget, ConnStatus, QueueSendResult

__all__ = ["ActorConnection", "ActorHandle", "Client"]

_log = logging.getLogger("rivet_dsl.client")

KeyArg = str | list[str] | tuple[str, ...] | None


def _key(key: KeyArg) -> tuple[str, ...]:
    if key is None:
        return ()
    if isinstance(key, str):
        return (key,)
    if not all(isinstance(part, str) for part in key):
        raise ActorError("client", "invalid_key", "an actor key is a string or a list of strings")
    return tuple(key)


def _wrap(exc: BaseException) -> BaseException:
    if isinstance(exc, ActorError):
        return exc
    if isinstance(exc, RivetError):
        return ActorError.from_error(exc)
    return exc


class Client:
    """A client of one registry.

    Args:
        endpoint: the server URL (``"http://127.0.0.1:6420"``) or a ready :class:`Transport`.
        encoding: the wire encoding for HTTP transports, ``"json"`` or ``"cbor"``.
        token: an optional bearer token sent with every request.

    Example:
        >>> async with Client("http://127.0.0.1:6420") as client:
        ...     counter = client.get_or_create("counter", ["main"])
        ...     await counter.action("increment", 1)
    """

    def __init__(
        self,
        endpoint: str | Transport,
        *,
        encoding: Literal["json", "cbor"] = "json",
        token: str | None = None,
    ) -> None:
        if isinstance(endpoint, str):
            from ._http import HttpTransport

            self.transport: Transport = HttpTransport(endpoint, encoding=encoding, token=token)
        else:
            self.transport = endpoint

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport (open connections are closed too)."""
        await self.transport.aclose()

    def get(self, name: str, key: KeyArg = None, *, params: Any = None) -> ActorHandle:
        """A handle to an existing actor; calls fail with ``actor/not_found`` if there is none.

        ``params`` (on every accessor) are the connection params of the handle's stateless
        calls (``x-rivet-conn-params`` over HTTP) and the default params of ``connect()``.
        """
        return ActorHandle(self.transport, ActorTarget(name, _key(key), "get"), params)

    def get_or_create(self, name: str, key: KeyArg = None, *, input: Any = None, params: Any = None) -> ActorHandle:
        """A handle that creates the actor (with ``input``) on first use if it does not exist."""
        return ActorHandle(self.transport, ActorTarget(name, _key(key), "getOrCreate", input), params)

    async def create(self, name: str, key: KeyArg = None, *, input: Any = None, params: Any = None) -> ActorHandle:
        """Create the actor now; ``actor/duplicate_key`` if it already exists."""
        try:
            actor_id = await self.transport.create(name, _key(key), input)
        except BaseException as exc:
            raise _wrap(exc) from None
        return ActorHandle(self.transport, ActorTarget(name, _key(key), "id", actor_id=actor_id), params)

    def get_for_id(self, name: str, actor_id: str, *, params: Any = None) -> ActorHandle:
        """A handle to the actor with this id."""
        return ActorHandle(self.transport, ActorTarget(name, (), "id", actor_id=actor_id), params)


class ActorHandle:
    """A stateless reference to one actor: call actions, send to queues, open connections.

    Its ``params`` (given when the handle is made) are the connection params of every
    stateless call, as RivetKit's handles send them, and the default params of :meth:`connect`.
    """

    __slots__ = ("_params", "_target", "_transport")

    def __init__(self, transport: Transport, target: ActorTarget, params: Any = None) -> None:
        self._transport = transport
        self._target = target
        self._params = params

    @property
    def name(self) -> str:
        return self._target.name

    @property
    def key(self) -> tuple[str, ...]:
        return self._target.key

    @property
    def target(self) -> ActorTarget:
        return self._target

    @property
    def params(self) -> Any:
        """The connection params of this handle's calls (``None``: anonymous)."""
        return self._params

    async def resolve(self) -> str:
        """The actor id (creating the actor first for ``get_or_create`` handles)."""
        try:
            return await self._transport.resolve(self._target)
        except BaseException as exc:
            raise _wrap(exc) from None

    async def action(self, name: str, *args: Any) -> Any:
        """Call an action (on a connection of its own, with the handle's params); returns its
        output as plain data."""
        try:
            return await self._transport.action(self._target, name, list(args), params=self._params)
        except BaseException as exc:
            raise _wrap(exc) from None

    async def send(
        self, name: str, body: Any, *, wait: bool = False, timeout: float | None = None
    ) -> QueueSendResult[Any]:
        """Send ``body`` to the queue ``name``; returns once it is durable.

        With ``wait=True`` it also waits (up to ``timeout`` seconds) for the actor to complete
        the message: ``result.status`` is ``"completed"`` (with ``result.response``) or
        ``"timed_out"`` (the message stays queued).
        """
        try:
            return await self._transport.send(
                self._target, name, body, wait=wait, timeout=timeout, params=self._params
            )
        except BaseException as exc:
            raise _wrap(exc) from None

    def connect(self, params: Any = None) -> ActorConnection:
        """A stateful connection: ``async with handle.connect(params) as conn: ...``.

        Without ``params`` (or with ``None``) it connects with the handle's params.
        """
        return ActorConnection(self._transport, self._target, self._params if params is None else params)

    async def destroy(self) -> None:
        """Destroy the actor (``on_destroy`` runs; its state is deleted)."""
        try:
            await self._transport.destroy(self._target)
        except BaseException as exc:
            raise _wrap(exc) from None


class ActorConnection:
    """An open connection: actions over it, and event callbacks with ``on``."""

    def __init__(self, transport: Transport, target: ActorTarget, params: Any) -> None:
        self._transport = transport
        self._target = target
        self._params = params
        self._conn: TransportConnection | None = None
        self._callbacks: dict[str, list[Callable[..., Any]]] = {}
        self._closed = asyncio.Event()
        self.close_error: ActorError | None = None
        self._status: ConnStatus = "idle"
        self._status_callbacks: list[Callable[[ConnStatus], Any]] = []

    async def __aenter__(self) -> ActorConnection:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the connection (``async with`` does this for you)."""
        if self._conn is not None:
            return
        self._set_status("connecting")
        try:
            self._conn = await self._transport.connect(self._target, self._params, self._dispatch, self._on_close)
        except BaseException as exc:
            self._set_status("disconnected")
            raise _wrap(exc) from None
        # getattr: a Transport written before connections had a status still works.
        with contextlib.suppress(AttributeError):
            self._conn.on_status = self._set_status
        self._set_status(getattr(self._conn, "status", "connected"))
        for event in self._callbacks:
            self._conn.subscribe(event, True)

    @property
    def status(self) -> ConnStatus:
        """``idle`` until opened, then ``connecting``/``connected``; back to ``connecting``
        while it reconnects after a lost socket (calls made then are sent once it is back);
        ``disconnected`` once closed for good: by :meth:`close`, by the actor, when reconnecting
        gave up, or when the server closed it with an error a new socket would get again (such
        as ``actor/invalid_request``; then :attr:`close_error` holds it and nothing reconnects)."""
        return self._status

    def on_status_change(self, callback: Callable[[ConnStatus], Any]) -> Callable[[], None]:
        """Call ``callback(status)`` on every status change; returns a function that stops it."""
        self._status_callbacks.append(callback)

        def stop() -> None:
            if callback in self._status_callbacks:
                self._status_callbacks.remove(callback)

        return stop

    def _set_status(self, status: ConnStatus) -> None:
        if status == self._status:
            return
        self._status = status
        for callback in list(self._status_callbacks):
            try:
                callback(status)
            except Exception:
                _log.exception("connection status callback failed")

    @property
    def actor_id(self) -> str:
        return self._require().actor_id

    @property
    def connection_id(self) -> str:
        return self._require().connection_id

    def _require(self) -> TransportConnection:
        if self._conn is None:
            raise ActorError("client", "not_connected", "the connection is not open")
        return self._conn

    def _dispatch(self, event: str, args: list[Any]) -> None:
        for callback in list(self._callbacks.get(event, ())):
            try:
                callback(*args)
            except Exception:
                _log.exception("event callback for %r failed", event)

    def _on_close(self, error: ActorError | None) -> None:
        self.close_error = error
        self._set_status("disconnected")
        self._closed.set()

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[[], None]:
        """Call ``callback(payload)`` for every ``event``; returns a function that unsubscribes."""
        callbacks = self._callbacks.setdefault(event, [])
        callbacks.append(callback)
        if len(callbacks) == 1 and self._conn is not None:
            self._conn.subscribe(event, True)

        def unsubscribe() -> None:
            if callback in callbacks:
                callbacks.remove(callback)
                if not callbacks and self._conn is not None:
                    self._conn.subscribe(event, False)

        return unsubscribe

    def once(self, event: str, callback: Callable[..., Any]) -> Callable[[], None]:
        """Like :meth:`on`, for the next event only."""

        def fire(*args: Any) -> None:
            unsubscribe()
            callback(*args)

        unsubscribe = self.on(event, fire)
        return unsubscribe

    async def action(self, name: str, *args: Any) -> Any:
        """Call an action over this connection (``self.conn`` is set in the actor)."""
        try:
            return await self._require().action(name, list(args))
        except BaseException as exc:
            raise _wrap(exc) from None

    async def wait_closed(self) -> ActorError | None:
        """Wait until the connection is closed for good; returns the close error, if any
        (``None`` after :meth:`close` or a normal close by the actor)."""
        await self._closed.wait()
        return self.close_error

    async def close(self) -> None:
        """Close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        self._set_status("disconnected")
