"""HTTP and WebSocket transport (RivetKit 2.3 gateway protocol).

Speaks to a ``rivet-dsl serve`` server or to RivetKit itself: stateless calls are HTTP requests
(httpx) to ``/gateway/{actor}/action|queue/...``; connections are WebSockets (``websockets``) on
``/gateway/{actor}/connect`` carrying ``{"body": {"tag", "val"}}`` frames. A connection that drops
is reopened with backoff and its event subscriptions are sent again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, Literal

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from ..server._codec import (
    BigInt,
    Encoding,
    WireDecodeError,
    content_type,
    decode,
    encode,
    encode_json,
)
from ._transport import EventCallback, TransportConnection
from ._types import ActorError, ActorTarget, ConnStatus, QueueSendResult

__all__ = ["HttpTransport"]

_log = logging.getLogger("rivet_dsl.client")


#: Kept as binary by :func:`_wire` (as ``runtime._codec.BINARY_TYPES``; the client does not
#: import the runtime).
_BINARY_TYPES = (bytes, bytearray, memoryview)


def _wire(value: Any) -> Any:
    """Plain data as it goes on the wire (Structs become dicts), like the in-process transport;
    bytes stay bytes, so the encoders send them as binary, not base64 text."""
    return msgspec.to_builtins(value, builtin_types=_BINARY_TYPES)


def _serialize_key(key: tuple[str, ...]) -> str:
    if not key:
        return "/"
    parts = ["\\0" if part == "" else part.replace("\\", "\\\\").replace("/", "\\/") for part in key]
    return "/".join(parts)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _json_escape(match: re.Match[str]) -> str:
    units = match.group().encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2))


def _conn_params_header(params: Any) -> dict[str, str]:
    """``x-rivet-conn-params``: the params as JSON text, as RivetKit's handles send them
    (``JSON.stringify(params)``); no header without params (the server then sees ``None``).

    Characters beyond ASCII are written as JSON ``\\uXXXX`` escapes (the same JSON value):
    RivetKit's server ignores a header value that is not ASCII, so raw UTF-8 params would
    silently reach it as no params at all.
    """
    if params is None:
        return {}
    return {"x-rivet-conn-params": _NON_ASCII.sub(_json_escape, encode_json(_wire(params)).decode())}


def _cbor_b64(value: Any, urlsafe: bool) -> str:
    raw = encode(_wire(value), "cbor")
    if urlsafe:
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return base64.b64encode(raw).decode("ascii")


#: Seconds an idle connection is kept for reuse: under the 5 s after which common servers
#: (uvicorn's and Node's defaults) close idle connections, so a reused connection is never
#: one the server is closing at that moment.
KEEPALIVE_EXPIRY_S = 4.0


def _transport_error(message: str, code: str = "transport_error") -> ActorError:
    return ActorError("client", code, message)


#: Close reasons that blame what the client sent (rivetkit-core closes with 1011 and
#: ``message.incoming_too_long`` when a message is over the server's limit). Other reasons, such
#: as an event over the *outgoing* limit, say nothing about the calls in flight.
_CALLER_CLOSE_REASONS = {"message.incoming_too_long"}

#: A close reason in RivetKit's form ``{group}.{code}``, optionally followed by ``#{ray id}``
#: (what rivetkit-core and Rivet's gateway send, and what RivetKit's client parses).
_CLOSE_REASON = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)(?:#.*)?", re.DOTALL)

#: Standard close codes (RFC 6455) a server sends on purpose about the connection itself, which a
#: new socket would get again: a protocol error, data it cannot accept, an invalid payload, a
#: policy violation (rivet-dsl serve and RivetKit refuse a connection with 1008). A normal close
#: (1000: the actor closed the connection) is final too.
_FINAL_CLOSE_CODES = frozenset({1000, 1002, 1003, 1007, 1008})

#: Groups and codes of a close reason that end the connection for good, whatever the close code:
#: the server could not decode what this client sends (``actor.invalid_request``,
#: ``*.malformed``), refuses this client (``*.unauthorized``, ``*.forbidden``, the ``auth`` group)
#: or this request (the ``request`` group: an unsupported encoding, a bad query), or the actor is
#: gone (``actor.not_found``, ``actor.destroyed``). Reconnecting would be closed the same way.
_FINAL_CLOSE_GROUPS = frozenset({"auth", "request"})
_FINAL_CLOSE_ERRORS = frozenset({"invalid_request", "malformed", "unauthorized", "forbidden", "not_found", "destroyed"})


def _close_reason_error(reason: str | None) -> tuple[str, str] | None:
    """``(group, code)`` of a close reason in RivetKit's ``group.code[#ray]`` form, else ``None``."""
    match = _CLOSE_REASON.fullmatch(reason or "")
    return None if match is None else (match.group(1), match.group(2))


def _close_is_final(code: int | None, reason: str | None) -> bool:
    """Whether a close the server sent ends the connection for good (no reconnect).

    Final: a close code in :data:`_FINAL_CLOSE_CODES`, or a reason naming an error a new socket
    would hit again (:data:`_FINAL_CLOSE_GROUPS`, :data:`_FINAL_CLOSE_ERRORS`). Everything else
    is a transport loss and reconnects: no close frame (1006), going away (1001), a restart
    (1012), try again later (1013), a bad gateway (1014), an internal error (1011) without such a
    reason, and errors about one message that is not sent again (1011
    ``message.incoming_too_long``: the call failed; ``message.outgoing_too_long``: an event was
    too long, the client subscribes again).
    """
    if code in _FINAL_CLOSE_CODES:
        return True
    error = _close_reason_error(reason)
    return error is not None and (error[0] in _FINAL_CLOSE_GROUPS or error[1] in _FINAL_CLOSE_ERRORS)


def _close_error(code: int | None, reason: str | None, final: bool = False) -> ActorError:
    """What the calls in flight fail with when the server closes the connection: the error the
    close names when it is about what the client sent or ends the connection (``final``), else
    ``connection_lost`` (with the close code and reason in the metadata)."""
    error = _close_reason_error(reason)
    if error is not None and (final or (code == 1011 and reason in _CALLER_CLOSE_REASONS)):
        group, error_code = error
        return ActorError(group, error_code, f"the server closed the connection: {reason}", {"closeCode": code})
    if final:
        return ActorError(
            "client",
            "connection_closed",
            f"the server closed the connection ({code}{f' {reason}' if reason else ''})",
            {"closeCode": code, "closeReason": reason or None},
        )
    return ActorError(
        "client", "connection_lost", "the connection was lost", {"closeCode": code, "closeReason": reason or None}
    )


class HttpTransport:
    """Talks to a ``rivet-dsl serve`` server (or RivetKit) over HTTP and WebSocket.

    Args:
        endpoint: ``http://host:port``.
        encoding: ``"json"`` (with RivetKit's JSON-compat tagging) or ``"cbor"``.
        token: a bearer token sent with every request (``rvt-token`` on gateway requests).
        namespace: the RivetKit namespace (``default``).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        encoding: Literal["json", "cbor"] = "json",
        token: str | None = None,
        namespace: str = "default",
        timeout: float | None = 120.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.encoding: Encoding = encoding
        self.token = token
        self.namespace = namespace
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self._connections: set[_HttpConnection] = set()
        self._headers = {"x-rivet-encoding": encoding, "content-type": content_type(encoding)}
        if token is not None:
            self._headers["authorization"] = f"Bearer {token}"

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.endpoint,
                timeout=self._timeout,
                limits=httpx.Limits(
                    max_connections=256, max_keepalive_connections=256, keepalive_expiry=KEEPALIVE_EXPIRY_S
                ),
            )
        return self._http

    def _gateway(self, target: ActorTarget) -> tuple[str, dict[str, str]]:
        """The gateway path and ``rvt-*`` query of a target (by id, or by name and key)."""
        if target.method == "id":
            assert target.actor_id is not None
            path = f"/gateway/{urllib.parse.quote(target.actor_id, safe='')}"
            return path, ({"rvt-token": self.token} if self.token else {})
        query = {"rvt-namespace": self.namespace, "rvt-method": target.method}
        if target.key:
            query["rvt-key"] = ",".join(target.key)
        if target.method == "getOrCreate":
            query["rvt-runner"] = "default"
            query["rvt-crash-policy"] = "sleep"
            if target.input is not None:
                query["rvt-input"] = _cbor_b64(target.input, urlsafe=True)
        if self.token:
            query["rvt-token"] = self.token
        return f"/gateway/{urllib.parse.quote(target.name, safe='')}", query

    async def _addressable(self, target: ActorTarget) -> ActorTarget:
        """Keys ``rvt-key`` cannot carry are addressed by id (resolved with their serialized
        form): a part holding ``,`` (the separator), and ``[""]``, whose joined form is the
        empty string, which Rivet's gateway reads as the empty key ``[]``."""
        if target.method != "id" and (target.key == ("",) or any("," in part for part in target.key)):
            actor_id = await self.resolve(target)
            return ActorTarget(target.name, target.key, "id", actor_id=actor_id)
        return target

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        encoding: Encoding | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        enc = encoding or self.encoding
        headers = self._headers if enc == self.encoding else {
            **self._headers,
            "x-rivet-encoding": enc,
            "content-type": content_type(enc),
        }
        if extra_headers:
            headers = {**headers, **extra_headers}
        content = None if body is None else encode(body, enc)
        try:
            response = await self.http.request(method, path, params=params, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise _transport_error(f"{method} {path} failed: {exc!r}", "connection_failed") from None
        data = response.content
        try:
            payload = decode(data, enc, max_depth=None) if data else None
        except WireDecodeError:
            payload = None
            if response.is_success:
                raise _transport_error(f"undecodable {enc} response from {method} {path}") from None
        if not response.is_success:
            if isinstance(payload, dict) and isinstance(payload.get("group"), str) and isinstance(payload.get("code"), str):
                raise ActorError(
                    payload["group"],
                    payload["code"],
                    str(payload.get("message", "")),
                    payload.get("metadata"),
                    response.status_code,
                )
            raise ActorError(
                "client", "http_error", f"{method} {path} returned HTTP {response.status_code}", None, response.status_code
            )
        return payload

    # -- Transport ---------------------------------------------------------------------------

    async def resolve(self, target: ActorTarget) -> str:
        if target.method == "id":
            assert target.actor_id is not None
            return target.actor_id
        key = _serialize_key(target.key)
        if target.method == "get":
            payload = await self._request(
                "GET", "/actors", params={"name": target.name, "key": key, "namespace": self.namespace}, encoding="json"
            )
            actors = payload.get("actors") if isinstance(payload, dict) else None
            if not actors:
                raise ActorError("actor", "not_found", f"Actor not found: {target.name} {list(target.key)}", None, 404)
            return str(actors[0]["actor_id"])
        body: dict[str, Any] = {
            "name": target.name,
            "key": key,
            "runner_name_selector": "default",
            "crash_policy": "sleep",
        }
        if target.input is not None:
            body["input"] = _cbor_b64(target.input, urlsafe=False)
        payload = await self._request("PUT", "/actors", params={"namespace": self.namespace}, body=body, encoding="json")
        return str(payload["actor"]["actor_id"])

    async def create(self, name: str, key: tuple[str, ...], input: Any) -> str:
        body: dict[str, Any] = {
            "name": name,
            "key": _serialize_key(key),
            "runner_name_selector": "default",
            "crash_policy": "sleep",
        }
        if input is not None:
            body["input"] = _cbor_b64(input, urlsafe=False)
        payload = await self._request("POST", "/actors", params={"namespace": self.namespace}, body=body, encoding="json")
        return str(payload["actor"]["actor_id"])

    async def action(self, target: ActorTarget, name: str, args: list[Any], *, params: Any = None) -> Any:
        headers = _conn_params_header(params)
        target = await self._addressable(target)
        path, query = self._gateway(target)
        payload = await self._request(
            "POST",
            f"{path}/action/{urllib.parse.quote(name, safe='')}",
            params=query,
            body={"args": _wire(args)},
            extra_headers=headers,
        )
        if not isinstance(payload, dict):
            raise _transport_error("malformed action response")
        return payload.get("output")

    async def send(
        self, target: ActorTarget, name: str, body: Any, *, wait: bool, timeout: float | None, params: Any = None
    ) -> QueueSendResult[Any]:
        headers = _conn_params_header(params)
        target = await self._addressable(target)
        path, query = self._gateway(target)
        request: dict[str, Any] = {"body": _wire(body), "name": name, "wait": wait}
        if wait and timeout is not None:
            request["timeout"] = max(0, round(timeout * 1000))
        payload = await self._request(
            "POST",
            f"{path}/queue/{urllib.parse.quote(name, safe='')}",
            params=query,
            body=request,
            extra_headers=headers,
        )
        if not isinstance(payload, dict):
            raise _transport_error("malformed queue response")
        status = payload.get("status")
        if status == "timedOut":
            return QueueSendResult("timed_out")
        if status != "completed":
            raise _transport_error(f"unknown queue send status {status!r}")
        return QueueSendResult("completed", payload.get("response"))

    async def connect(
        self,
        target: ActorTarget,
        params: Any,
        on_event: EventCallback,
        on_close: Callable[[ActorError | None], None],
    ) -> TransportConnection:
        target = await self._addressable(target)
        connection = _HttpConnection(self, target, params, on_event, on_close)
        await connection.open()
        self._connections.add(connection)
        return connection

    async def destroy(self, target: ActorTarget) -> None:
        actor_id = await self.resolve(target)
        await self._request(
            "DELETE", f"/actors/{urllib.parse.quote(actor_id, safe='')}", params={"namespace": self.namespace}, encoding="json"
        )

    async def aclose(self) -> None:
        for connection in list(self._connections):
            await connection.close()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    def _forget(self, connection: _HttpConnection) -> None:
        self._connections.discard(connection)


class _HttpConnection:
    """One WebSocket connection; reopened (with resubscription) if it drops."""

    RECONNECT_ATTEMPTS = 8

    def __init__(
        self,
        transport: HttpTransport,
        target: ActorTarget,
        params: Any,
        on_event: EventCallback,
        on_close: Callable[[ActorError | None], None],
    ) -> None:
        self.transport = transport
        self.target = target
        self.params = params
        self.on_event = on_event
        self.on_close = on_close
        self.actor_id = ""
        self.connection_id = ""
        self.encoding: Encoding = transport.encoding
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._subscriptions: set[str] = set()
        #: Frames of calls made while the connection is being re-established, sent once it is
        #: (as RivetKit's client queues them): a call does not fail for a reconnect it did not see.
        self._held: list[str | bytes] | None = None
        self._closing = False
        self._closed = False
        #: Why the connection ended for good (``None``: closed normally).
        self._close_error: ActorError | None = None
        self.status: ConnStatus = "connecting"
        self.on_status: Callable[[ConnStatus], None] | None = None

    def _url(self) -> str:
        path, query = self.transport._gateway(self.target)
        base = self.transport.endpoint
        if base.startswith("https://"):
            base = "wss://" + base[len("https://") :]
        elif base.startswith("http://"):
            base = "ws://" + base[len("http://") :]
        url = f"{base}{path}/connect"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return url

    def _protocols(self) -> list[str]:
        protocols = ["rivet", f"rivet_encoding.{self.encoding}"]
        if self.params is not None:
            raw = encode_json(_wire(self.params)).decode()
            protocols.append("rivet_conn_params." + urllib.parse.quote(raw, safe=""))
        if self.transport.token:
            protocols.append("rivet_token." + urllib.parse.quote(self.transport.token, safe=""))
        return protocols

    async def open(self) -> None:
        try:
            ws = await websockets.connect(
                self._url(),
                subprotocols=[websockets.Subprotocol(p) for p in self._protocols()],
                max_size=32 * 1024 * 1024,
                compression=None,
                open_timeout=30,
                ping_interval=None,
            )
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            raise _transport_error(f"cannot open a connection: {exc!r}", "connection_failed") from None
        try:
            frame = await asyncio.wait_for(ws.recv(), 30)
            tag, val = self._parse(frame)
        except (websockets.WebSocketException, TimeoutError, _BadFrame) as exc:
            await ws.close()
            raise _transport_error(f"connection failed before Init: {exc!r}", "connection_failed") from None
        if tag == "Error":
            await ws.close()
            raise ActorError(str(val.get("group")), str(val.get("code")), str(val.get("message", "")), val.get("metadata"))
        if tag != "Init":
            await ws.close()
            raise _transport_error(f"expected Init, got {tag}", "protocol_error")
        self.actor_id = str(val.get("actorId", ""))
        self.connection_id = str(val.get("connectionId", ""))
        self._ws = ws
        self._outbox = asyncio.Queue()
        for event in self._subscriptions:
            self._send({"body": {"tag": "SubscriptionRequest", "val": {"eventName": event, "subscribe": True}}})
        held, self._held = self._held, None
        for data in held or ():
            self._outbox.put_nowait(data)
        loop = asyncio.get_running_loop()
        if self._writer is not None:
            self._writer.cancel()
        self._writer = loop.create_task(self._write(ws, self._outbox))
        self._reader = loop.create_task(self._read(ws))
        self._set_status("connected")

    def _set_status(self, status: ConnStatus) -> None:
        if status == self.status:
            return
        self.status = status
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:
                _log.exception("connection status callback failed")

    def _parse(self, frame: str | bytes) -> tuple[str, dict[str, Any]]:
        data = frame.encode() if isinstance(frame, str) else frame
        try:
            message = decode(data, self.encoding, max_depth=None)
        except WireDecodeError as exc:
            raise _BadFrame(str(exc)) from None
        body = message.get("body") if isinstance(message, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("tag"), str) or not isinstance(body.get("val"), dict):
            raise _BadFrame("frame without {body: {tag, val}}")
        return body["tag"], body["val"]

    def _send(self, frame: dict[str, Any]) -> None:
        """Queue a frame for the writer (frames leave in the order they were queued); while
        reconnecting, hold it until the connection is back."""
        if self._ws is None and self._held is None:
            raise _transport_error("the connection is not open", "connection_closed")
        encoded = encode(frame, self.encoding)
        data = encoded.decode() if self.encoding == "json" else encoded
        if self._ws is None:
            assert self._held is not None
            self._held.append(data)
        else:
            self._outbox.put_nowait(data)

    async def _write(self, ws: ClientConnection, outbox: asyncio.Queue[str | bytes]) -> None:
        try:
            while True:
                await ws.send(await outbox.get())
        except websockets.WebSocketException:
            return

    async def _read(self, ws: ClientConnection) -> None:
        error: ActorError | None = None
        try:
            async for frame in ws:
                try:
                    tag, val = self._parse(frame)
                except _BadFrame as exc:
                    _log.warning("ignoring a malformed frame: %s", exc)
                    continue
                self._dispatch(tag, val)
        except websockets.WebSocketException:
            pass
        if self._closing:
            return
        # The server went away: fail what is in flight, then try to reconnect.
        if self._writer is not None:
            self._writer.cancel()
        code, reason = ws.close_code, ws.close_reason
        final = _close_is_final(code, reason)
        lost = _close_error(code, reason, final and code != 1000)
        self._fail_pending(lost)
        self._ws = None
        if final:
            # A close the server sent on purpose that a new socket would get again: final. A
            # normal close (1000, ``conn.disconnect()`` in the actor) is not an error.
            self._finish(None if code == 1000 else lost)
            return
        self._held = []
        self._set_status("connecting")
        delay = 0.05
        for _ in range(self.RECONNECT_ATTEMPTS):
            if self.closing():
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            try:
                await self.open()
                return
            except ActorError as exc:
                error = exc
                if exc.group != "client":
                    break
            except Exception as exc:  # noqa: BLE001  (held calls must never wait on a dead reader)
                error = _transport_error(f"cannot reconnect: {exc!r}", "connection_failed")
                break
        self._finish(error or _transport_error("the connection was lost", "connection_lost"))

    def _dispatch(self, tag: str, val: dict[str, Any]) -> None:
        if tag == "ActionResponse":
            future = self._pending.pop(int(val.get("id", -1)), None)
            if future is not None and not future.done():
                future.set_result(val.get("output"))
        elif tag == "Event":
            args = val.get("args")
            self.on_event(str(val.get("name")), args if isinstance(args, list) else [args])
        elif tag == "Error":
            error = ActorError(str(val.get("group")), str(val.get("code")), str(val.get("message", "")), val.get("metadata"))
            action_id = val.get("actionId")
            if action_id is not None:
                future = self._pending.pop(int(action_id), None)
                if future is not None and not future.done():
                    future.set_exception(error)
            else:
                _log.warning("connection error from the server: %s", error)

    def closing(self) -> bool:
        """Whether :meth:`close` was called (checked again after every await)."""
        return self._closing

    def _fail_pending(self, error: ActorError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    def _finish(self, error: ActorError | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_error = error
        self._held = None
        self._set_status("disconnected")
        # Calls made while it tried to reconnect were never sent: they fail with the reason.
        self._fail_pending(error or _transport_error("the connection is closed", "connection_closed"))
        self.transport._forget(self)
        self.on_close(error)

    async def action(self, name: str, args: list[Any]) -> Any:
        if self._closed or self._closing:
            error = self._close_error
            if error is not None and not self._closing:
                # Closed for good by the server: later calls fail with the reason too.
                raise ActorError(error.group, error.code, error.message, error.metadata)
            raise _transport_error("the connection is closed", "connection_closed")
        action_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            self._send({"body": {"tag": "ActionRequest", "val": {"id": BigInt(action_id), "name": name, "args": _wire(args)}}})
            return await future
        finally:
            self._pending.pop(action_id, None)

    def subscribe(self, event: str, subscribe: bool) -> None:
        if subscribe:
            self._subscriptions.add(event)
        else:
            self._subscriptions.discard(event)
        if self._ws is None:
            return
        self._send({"body": {"tag": "SubscriptionRequest", "val": {"eventName": event, "subscribe": subscribe}}})

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(1000, "Disposed")
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._fail_pending(_transport_error("the connection is closed", "connection_closed"))
        self._finish(None)


class _BadFrame(Exception):
    pass
