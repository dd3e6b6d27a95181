"""The ASGI application: RivetKit 2.3's gateway protocol over a :class:`Runtime`.

Routes (see ``docs``/API.md §4): ``GET /metadata``, ``GET /health``, the manager routes
(``PUT|POST|GET /actors``, ``DELETE /actors/{id}``) and, under ``/gateway/{actor}``,
``POST /action/{name}``, ``POST /queue/{name}``, WebSocket ``/connect``, ``GET /health`` and
the inspector (``/inspector/*``, see :mod:`._inspector`).

Every request body is decoded and checked before anything happens to an actor, so a malformed
request has no effect. Every error leaves as ``{group, code, message, metadata?}`` in the
request's encoding with Rivet's status and an ``x-rivet-error: group.code`` header; errors that
are not public are masked as ``rivetkit/internal_error``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._errors import (
    INTERNAL_ERROR_MESSAGE,
    ActionTimedOutError,
    ConnParamsTooLongError,
    RivetError,
)
from .._version import __version__
from ..runtime import ActorInfo, Runtime, deserialize_key, serialize_key
from ..runtime._connection import Conn
from ._codec import (
    BigInt,
    Encoding,
    WireDecodeError,
    content_type,
    decode,
    decode_cbor,
    decode_json,
    encode,
)

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_MAX_OUTGOING", "ServerConfig", "WireError", "create_app", "error_payload"]

_log = logging.getLogger("rivet_dsl.server")

#: Default limit for action/queue bodies and WebSocket messages (Rivet's incoming soft limit).
DEFAULT_MAX_BODY = 64 * 1024
#: Default limit for action/queue responses and WebSocket frames to a client (Rivet's
#: ``maxOutgoingMessageSize``, 1 MiB).
DEFAULT_MAX_OUTGOING = 1024 * 1024
#: Manager bodies (actor input) may be larger.
MANAGER_MAX_BODY = 4 * 1024 * 1024
#: RivetKit version we speak.
RIVET_PROTOCOL_VERSION = "2.3.19"
#: Connection params (the JSON text, UTF-8 bytes) may be at most this long (Rivet's limit).
MAX_CONN_PARAMS = 4 * 1024

_KNOWN_RVT = frozenset(
    {
        "rvt-namespace",
        "rvt-method",
        "rvt-key",
        "rvt-runner",
        "rvt-crash-policy",
        "rvt-input",
        "rvt-token",
        "rvt-region",
        "rvt-skip-ready-wait",
        "rvt-bypass_connectable",
    }
)


class WireError(RivetError):
    """A request-level error (bad encoding, malformed body, oversized message, bad route)."""

    default_group = "request"
    default_code = "invalid"
    default_status = 400


def _malformed(message: str) -> WireError:
    return WireError(message, group="message", code="malformed")


@dataclass
class ServerConfig:
    """Settings of one server."""

    dev: bool = True
    inspector_token: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    max_outgoing: int = DEFAULT_MAX_OUTGOING


def error_payload(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and wire body of an error (non-public errors masked)."""
    if isinstance(exc, RivetError) and exc.public:
        body: dict[str, Any] = {"group": exc.group, "code": exc.code, "message": exc.message}
        if exc.metadata is not None:
            body["metadata"] = exc.metadata
        return exc.status, body
    return 500, {"group": "rivetkit", "code": "internal_error", "message": INTERNAL_ERROR_MESSAGE}


def _log_unexpected(exc: BaseException) -> None:
    if not isinstance(exc, RivetError):
        _log.error("unexpected error while serving a request", exc_info=exc)
    elif not exc.public:
        _log.error("internal error while serving a request", exc_info=exc)


def request_encoding(request: Request) -> Encoding:
    raw = request.headers.get("x-rivet-encoding")
    if raw is None or raw == "json":
        return "json"
    if raw == "cbor":
        return "cbor"
    raise WireError(
        f"Unsupported encoding {raw!r}; this server speaks json and cbor",
        group="request",
        code="unsupported_encoding",
        metadata={"encoding": raw},
    )


def error_response(exc: BaseException, encoding: Encoding, headers: dict[str, str] | None = None) -> Response:
    _log_unexpected(exc)
    status, body = error_payload(exc)
    out = dict(headers or {})
    out["x-rivet-error"] = f"{body['group']}.{body['code']}"
    return Response(encode(body, encoding), status_code=status, media_type=content_type(encoding), headers=out)


def ok_response(body: Any, encoding: Encoding, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(body, encoding), media_type=content_type(encoding), headers=headers)


def bounded_response(body: Any, encoding: Encoding, limit: int, headers: dict[str, str] | None = None) -> Response:
    """:func:`ok_response`, refusing (400 ``message.outgoing_too_long``) a body over ``limit``
    encoded bytes, as Rivet refuses a response over ``maxOutgoingMessageSize``."""
    data = encode(body, encoding)
    if len(data) > limit:
        raise OutgoingTooLongError(len(data), limit)
    return Response(data, media_type=content_type(encoding), headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (400 ``message.incoming_too_long``) anything over ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise WireError("Invalid content-length header", code="invalid_content_length") from None
        if size > limit:
            raise _too_long(size, limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_long(total, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_long(size: int, limit: int) -> WireError:
    return WireError(
        f"Incoming message too long ({size} bytes). Limit is {limit} bytes.",
        group="message",
        code="incoming_too_long",
        metadata={"limit": limit},
    )


class OutgoingTooLongError(WireError):
    """A response or frame over the server's outgoing limit (``ServerConfig.max_outgoing``)."""

    default_group = "message"
    default_code = "outgoing_too_long"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"Outgoing message too long ({size} bytes). Limit is {limit} bytes.", metadata={"limit": limit}
        )


def decode_conn_params(raw: bytes | None) -> Any:
    """Connection params: the JSON text of ``x-rivet-conn-params`` or ``rivet_conn_params.``.

    Absent (or empty) is ``None``; over :data:`MAX_CONN_PARAMS` bytes is
    ``actor/conn_params_too_long``; text that is not JSON is ``message/malformed``.
    """
    if not raw:
        return None
    if len(raw) > MAX_CONN_PARAMS:
        raise ConnParamsTooLongError(
            f"Connection parameters too long ({len(raw)} bytes). Limit is {MAX_CONN_PARAMS} bytes.",
            metadata={"limit": MAX_CONN_PARAMS},
        )
    try:
        return decode_json(raw)
    except WireDecodeError as exc:
        raise _malformed(f"Invalid connection params: {exc}") from None


def http_conn_params(request: Request) -> Any:
    """The ``x-rivet-conn-params`` header of an action or queue request (``None`` if absent)."""
    raw = request.headers.get("x-rivet-conn-params")
    # Header values arrive decoded as latin-1: back to the bytes the client sent (UTF-8 JSON).
    return None if raw is None else decode_conn_params(raw.encode("latin-1"))


def decode_body(data: bytes, encoding: Encoding) -> Any:
    try:
        return decode(data, encoding)
    except WireDecodeError as exc:
        raise _malformed(f"Malformed {encoding} body: {exc}") from None


def header_key(key: tuple[str, ...]) -> str:
    """``x-rivet-actor-key``: Rivet's serialized key, percent-encoded outside ASCII."""
    return urllib.parse.quote(serialize_key(key), safe="/\\,-_.~@:!$&'()*+;= ")


def actor_headers(info: ActorInfo) -> dict[str, str]:
    return {
        "x-rivet-actor": info.actor_id,
        "x-rivet-actor-key": header_key(info.key),
        "x-rivet-actor-generation": "1",
    }


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def actor_json(info: ActorInfo) -> dict[str, Any]:
    """An actor as the manager API reports it (the engine's field names)."""
    created = _ms(info.created_at)
    return {
        "actor_id": info.actor_id,
        "name": info.name,
        "key": serialize_key(info.key),
        "namespace_id": "default",
        "datacenter": "default",
        "runner_name_selector": "default",
        "crash_policy": "sleep",
        "create_ts": created,
        "start_ts": created,
        "pending_allocation_ts": None,
        "connectable_ts": created,
        "sleep_ts": None,
        "reschedule_ts": None,
        "destroy_ts": None,
    }


def parse_key(value: Any, what: str = "key") -> tuple[str, ...]:
    """A manager-API key: Rivet's serialized string, a list of strings, or null."""
    if value is None:
        return ()
    if isinstance(value, str):
        return deserialize_key(value)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return tuple(value)
    raise WireError(f"Invalid {what}: expected a string or a list of strings", code="invalid_key")


def decode_input(value: Any) -> Any:
    """Manager ``input``: base64 CBOR (what RivetKit's client sends) or plain JSON data."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if ("-" in value or "_" in value) else None, validate=True)
            return decode_cbor(raw)
        except (ValueError, WireDecodeError):
            raise WireError("Invalid input: expected base64-encoded CBOR", code="invalid_input") from None
    return value


# -------------------------------------------------------------------------------------------
# Gateway addressing


def _gateway_query(request: Request) -> dict[str, str]:
    return gateway_query(parse_query(request.scope.get("query_string", b"")))


def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """``a=1&b=2`` -> pairs; like ``parse_qsl`` but without its cost on the common plain case."""
    if not raw:
        return []
    text = raw.decode("latin-1")
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        # Bytes that are not UTF-8 are refused, not replaced: two different keys must never
        # reach the same actor.
        try:
            if "%" in part or "+" in part:
                name = urllib.parse.unquote_plus(name, encoding="utf-8", errors="strict")
                value = urllib.parse.unquote_plus(value, encoding="utf-8", errors="strict")
            elif not text.isascii():
                name = name.encode("latin-1").decode("utf-8")
                value = value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("Query parameters must be UTF-8", code="invalid_query") from None
        pairs.append((name, value))
    return pairs


def gateway_query(items: list[tuple[str, str]]) -> dict[str, str]:
    """The ``rvt-*`` query parameters; unknown or duplicate ones are rejected (as Rivet)."""
    seen: dict[str, str] = {}
    for name, value in items:
        if not name.startswith("rvt-"):
            continue
        if name not in _KNOWN_RVT:
            raise WireError(f"Unknown gateway query parameter {name!r}", code="invalid_query", metadata={"param": name})
        if name in seen:
            raise WireError(f"Duplicate gateway query parameter {name!r}", code="invalid_query", metadata={"param": name})
        seen[name] = value
    return seen


async def resolve_actor(runtime: Runtime, request_path_actor: str, query: dict[str, str]) -> ActorInfo:
    """The actor a gateway path addresses: an id (``{id}[@token]``) or a name + ``rvt-method``."""
    method = query.get("rvt-method")
    if method is None:
        for name in ("rvt-key", "rvt-input"):
            if name in query:
                raise WireError(f"{name} needs rvt-method", code="invalid_query", metadata={"param": name})
        actor_id = request_path_actor.split("@", 1)[0]
        return await runtime.get_for_id(actor_id)
    name = request_path_actor
    # Rivet's clients join the key with "," and leave rvt-key out for the empty key, so a
    # present but empty rvt-key is the key [""] (Rivet's engine would take it for [] too).
    raw_key = query.get("rvt-key")
    key: tuple[str, ...] = () if raw_key is None else tuple(raw_key.split(","))
    if method == "get":
        if "rvt-input" in query:
            raise WireError("rvt-input is only valid with rvt-method=getOrCreate", code="invalid_query")
        return await runtime.get(name, key)
    if method == "getOrCreate":
        raw_input = query.get("rvt-input")
        input_value = None if raw_input is None else decode_input(raw_input)
        return await runtime.get_or_create(name, key, input_value)
    raise WireError(
        f"Invalid rvt-method {method!r}; expected get or getOrCreate", code="invalid_query", metadata={"param": "rvt-method"}
    )


# -------------------------------------------------------------------------------------------
# The application


class RivetServer:
    """Request handlers bound to one runtime."""

    def __init__(self, runtime: Runtime, config: ServerConfig) -> None:
        self.runtime = runtime
        self.config = config

    # -- framework ---------------------------------------------------------------------------

    async def metadata(self, request: Request) -> Response:
        body = {
            "runtime": "engine",
            "version": RIVET_PROTOCOL_VERSION,
            "implementation": "rivet-dsl",
            "implementation_version": __version__,
            "envoy_protocol_version": 8,
            "actorNames": {name: {"metadata": {}} for name in self.runtime.registry.definitions},
        }
        return ok_response(body, "json")

    async def health(self, request: Request) -> Response:
        return ok_response({"status": "ok", "runtime": "rivet-dsl", "version": __version__}, "json")

    # -- manager -----------------------------------------------------------------------------

    async def _actor_json(self, info: ActorInfo) -> dict[str, Any]:
        if info.created_at == 0.0:  # found live in memory: the creation time is in storage
            record = await self.runtime.storage.load_actor(info.actor_id)
            if record is not None:
                info = ActorInfo(info.actor_id, info.name, info.key, record.created_at, info.created)
        return actor_json(info)

    async def _manager_body(self, request: Request) -> dict[str, Any]:
        encoding = request_encoding(request)
        body = decode_body(await read_body(request, MANAGER_MAX_BODY), encoding)
        if not isinstance(body, dict):
            raise _malformed("Expected an object body")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise WireError("Missing or invalid actor name", code="invalid_name")
        return body

    async def put_actors(self, request: Request) -> Response:
        try:
            body = await self._manager_body(request)
            key = parse_key(body.get("key"))
            info = await self.runtime.get_or_create(body["name"], key, decode_input(body.get("input")))
            return ok_response({"actor": await self._actor_json(info), "created": info.created}, "json")
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            return error_response(exc, "json")

    async def post_actors(self, request: Request) -> Response:
        try:
            body = await self._manager_body(request)
            key = parse_key(body.get("key"))
            info = await self.runtime.create(body["name"], key, decode_input(body.get("input")))
            return ok_response({"actor": await self._actor_json(info)}, "json")
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            return error_response(exc, "json")

    async def list_actors(self, request: Request) -> Response:
        try:
            params = request.query_params
            actor_ids = params.get("actor_ids")
            name = params.get("name")
            infos: list[ActorInfo] = []
            if actor_ids:
                for actor_id in actor_ids.split(","):
                    if not actor_id:
                        continue
                    try:
                        infos.append(await self.runtime.get_for_id(actor_id))
                    except RivetError as exc:
                        if exc.code != "not_found":
                            raise
            elif name:
                raw_key = params.get("key")
                key = None if raw_key is None else parse_key(raw_key)
                raw_limit = params.get("limit")
                try:
                    limit = 1000 if raw_limit is None else max(1, min(int(raw_limit), 10000))
                except ValueError:
                    raise WireError("Invalid limit", code="invalid_query") from None
                infos = await self.runtime.list_actors(name, key, limit)
            else:
                raise WireError("GET /actors needs name or actor_ids", code="invalid_query")
            actors = [await self._actor_json(i) for i in infos]
            return ok_response({"actors": actors, "pagination": {"cursor": None}}, "json")
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            return error_response(exc, "json")

    async def delete_actor(self, request: Request) -> Response:
        try:
            await self.runtime.destroy(request.path_params["actor_id"])
            return ok_response({}, "json")
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            return error_response(exc, "json")

    # -- gateway -----------------------------------------------------------------------------

    async def gateway_health(self, request: Request) -> Response:
        try:
            info = await resolve_actor(self.runtime, request.path_params["actor"], _gateway_query(request))
            return ok_response({"status": "ok"}, "json", actor_headers(info))
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            return error_response(exc, "json")

    async def action(self, request: Request) -> Response:
        encoding: Encoding = "json"
        headers: dict[str, str] | None = None
        try:
            encoding = request_encoding(request)
            query = _gateway_query(request)
            body = decode_body(await read_body(request, self.config.max_body), encoding)
            args = action_args(body)
            params = http_conn_params(request)
            info = await resolve_actor(self.runtime, request.path_params["actor"], query)
            headers = actor_headers(info)
            output = await self.runtime.request_call(info.actor_id, request.path_params["name"], args, params)
            return bounded_response({"output": output}, encoding, self.config.max_outgoing, headers)
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            return error_response(exc, encoding, headers)

    async def queue(self, request: Request) -> Response:
        encoding: Encoding = "json"
        headers: dict[str, str] | None = None
        try:
            encoding = request_encoding(request)
            query = _gateway_query(request)
            body = decode_body(await read_body(request, self.config.max_body), encoding)
            name = request.path_params["name"]
            message, wait, timeout = queue_request(body, name)
            params = http_conn_params(request)
            info = await resolve_actor(self.runtime, request.path_params["actor"], query)
            headers = actor_headers(info)
            # Bounded like an action (Rivet: actionTimeout): a wait longer than that, or one
            # without a timeout, ends with actor/action_timed_out; the message stays queued.
            limit = self.runtime.definition(info.name).options.action_timeout
            wait_for = limit if timeout is None else min(timeout, limit)
            result = await self.runtime.request_send(
                info.actor_id, name, message, wait=wait, timeout=wait_for, params=params
            )
            if result.status == "timed_out" and (timeout is None or timeout > limit):
                raise ActionTimedOutError("Action timed out", metadata={"timeout": limit})
            out: dict[str, Any]
            if result.status == "timed_out":
                out = {"status": "timedOut"}
            elif wait:
                out = {"status": "completed", "response": result.response}
            else:
                out = {"status": "completed"}
            return bounded_response(out, encoding, self.config.max_outgoing, headers)
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            return error_response(exc, encoding, headers)

    async def not_found(self, request: Request) -> Response:
        return error_response(
            WireError(f"No route for {request.method} {request.url.path}", code="not_found", status=404), "json"
        )

    # -- WebSocket ---------------------------------------------------------------------------

    async def connect(self, websocket: WebSocket) -> None:
        session = _WsSession(self, websocket)
        await session.run()


def action_args(body: Any) -> list[Any]:
    """``{"args": [...]}``; a non-array becomes one argument, null or absent none (as Rivet)."""
    if not isinstance(body, dict):
        raise _malformed("Expected an object body with 'args'")
    args = body.get("args")
    if args is None:
        return []
    if isinstance(args, list):
        return args
    return [args]


def queue_request(body: Any, name: str) -> tuple[Any, bool, float | None]:
    """``{"body", "wait"?, "timeout"? (ms), "name"?}`` -> (message, wait, timeout seconds)."""
    if not isinstance(body, dict):
        raise _malformed("Expected an object body with 'body'")
    wait = body.get("wait")
    if wait is None:
        wait = False
    if not isinstance(wait, bool):
        raise _malformed("'wait' must be a boolean")
    timeout_ms = body.get("timeout")
    timeout: float | None = None
    if timeout_ms is not None:
        if (
            isinstance(timeout_ms, bool)
            or not isinstance(timeout_ms, int | float)
            or math.isnan(timeout_ms)  # CBOR can carry NaN; it compares false with everything
            or timeout_ms < 0
        ):
            raise _malformed("'timeout' must be a non-negative number of milliseconds")
        timeout = float(timeout_ms) / 1000.0
    given_name = body.get("name")
    if given_name is not None and given_name != name:
        raise _malformed(f"Body names queue {given_name!r} but the path names {name!r}")
    return body.get("body"), wait, timeout


# -------------------------------------------------------------------------------------------
# WebSocket sessions


def _parse_protocols(protocols: list[str]) -> tuple[Encoding, bytes | None, bool]:
    encoding: Encoding = "json"
    params: bytes | None = None
    for protocol in protocols:
        if protocol.startswith("rivet_encoding."):
            raw = protocol[len("rivet_encoding.") :]
            if raw == "json":
                encoding = "json"
            elif raw == "cbor":
                encoding = "cbor"
            else:
                raise WireError(
                    f"Unsupported encoding {raw!r}; this server speaks json and cbor",
                    code="unsupported_encoding",
                    metadata={"encoding": raw},
                )
        elif protocol.startswith("rivet_conn_params."):
            params = urllib.parse.unquote_to_bytes(protocol[len("rivet_conn_params.") :])
    return encoding, params, "rivet" in protocols


def _frame(tag: str, val: dict[str, Any]) -> dict[str, Any]:
    return {"body": {"tag": tag, "val": val}}


def _error_frame(exc: BaseException, action_id: int | None) -> dict[str, Any]:
    _log_unexpected(exc)
    _, body = error_payload(exc)
    val: dict[str, Any] = {
        "group": body["group"],
        "code": body["code"],
        "message": body["message"],
        "metadata": body.get("metadata"),
        "actionId": None if action_id is None else BigInt(action_id),
    }
    return _frame("Error", val)


_CLOSE = object()

#: How long a connection the server closes waits for the replies of actions still running on it.
CLOSE_AFTER_ACTIONS_S = 5.0


class _WsSession:
    """One ``/connect`` WebSocket: Init, then ActionRequest/SubscriptionRequest in, responses out."""

    def __init__(self, server: RivetServer, websocket: WebSocket) -> None:
        self.server = server
        self.runtime = server.runtime
        self.ws = websocket
        self.encoding: Encoding = "json"
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.conn: Conn | None = None
        self.actor_id = ""
        self.close_reason: str | None = None
        self.close_code = 1000

    def _send_now(self, frame: dict[str, Any]) -> None:
        self.outbox.put_nowait(encode(frame, self.encoding))

    def _send_bounded(self, frame: dict[str, Any]) -> None:
        """Queue a frame produced by the actor (a reply, an event); one over the outgoing limit
        raises :class:`OutgoingTooLongError` and nothing is queued."""
        data = encode(frame, self.encoding)
        limit = self.server.config.max_outgoing
        if len(data) > limit:
            raise OutgoingTooLongError(len(data), limit)
        self.outbox.put_nowait(data)

    def sink(self, event: str, args: list[Any]) -> None:
        try:
            self._send_bounded(_frame("Event", {"name": event, "args": args}))
        except OutgoingTooLongError as exc:
            # As Rivet: an event the connection cannot carry closes it (1011), so the client
            # knows it missed one (reconnecting, it subscribes again); the actor is not told.
            _log.warning("closing connection %s: event %r is too long (%s)", self.conn_id(), event, exc.message)
            self.close_code = 1011
            self.close_reason = f"{exc.group}.{exc.code}"
            self.outbox.put_nowait(_CLOSE)

    def conn_id(self) -> str:
        return "" if self.conn is None else self.conn.id

    def server_close(self, reason: str | None) -> None:
        self.close_reason = reason
        # 1012 (service restart) while the server shuts down, so clients reconnect; 1000 when
        # the actor closed this connection on purpose.
        self.close_code = 1000 if self.runtime.running else 1012
        pending = [task for task in self.tasks if not task.done()]
        if not pending:
            self.outbox.put_nowait(_CLOSE)
            return
        # Actions still running on this connection answer first: the one that closed it
        # (`self.conn.disconnect()`, `self.destroy()`) is among them, and its reply would
        # otherwise be queued behind the close and never sent.
        task = asyncio.get_running_loop().create_task(self._close_after(pending))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _close_after(self, actions: list[asyncio.Task[None]]) -> None:
        await asyncio.wait(actions, timeout=CLOSE_AFTER_ACTIONS_S)
        self.outbox.put_nowait(_CLOSE)

    async def _writer(self) -> None:
        send_bytes = self.ws.send_bytes
        send_text = self.ws.send_text
        cbor = self.encoding == "cbor"
        while True:
            item = await self.outbox.get()
            if item is _CLOSE:
                with contextlib.suppress(Exception):
                    await self.ws.close(self.close_code, (self.close_reason or "closed")[:120])
                return
            if cbor:
                await send_bytes(item)
            else:
                await send_text(item.decode())

    async def run(self) -> None:
        ws = self.ws
        protocols: list[str] = list(ws.scope.get("subprotocols") or [])
        try:
            encoding, raw_params, offered_rivet = _parse_protocols(protocols)
        except WireError as exc:
            await ws.accept(subprotocol="rivet" if "rivet" in protocols else None)
            await ws.send_text(encode(_error_frame(exc, None), "json").decode())
            await ws.close(1008, "request.unsupported_encoding")
            return
        self.encoding = encoding
        await ws.accept(subprotocol="rivet" if offered_rivet else None)
        writer = asyncio.get_running_loop().create_task(self._writer())
        try:
            try:
                if raw_params is None:
                    header = ws.headers.get("x-rivet-conn-params")
                    raw_params = None if header is None else header.encode("latin-1")
                params = decode_conn_params(raw_params)
                query = gateway_query(parse_query(ws.scope.get("query_string", b"")))
                info = await resolve_actor(self.runtime, ws.path_params["actor"], query)
                self.actor_id = info.actor_id
                self.conn = await self.runtime.connect(info.actor_id, params, self.sink, self.server_close)
            except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
                self._send_now(_error_frame(exc, None))
                _, body = error_payload(exc)
                await self._close_after_queued(writer, 1008, f"{body['group']}.{body['code']}")
                return
            self._send_now(_frame("Init", {"actorId": info.actor_id, "connectionId": self.conn.id}))
            await self._read_loop(writer)
        finally:
            conn, self.conn = self.conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await self.runtime.disconnect(self.actor_id, conn)
            # Actions still running finish (bounded by their timeout); their replies are dropped.
            if not writer.done():
                writer.cancel()
                with contextlib.suppress(BaseException):
                    await writer

    async def _close_after_queued(self, writer: asyncio.Task[None], code: int, reason: str) -> None:
        """Close with ``code``/``reason`` once the frames queued before it went out. Bounded: a
        peer that does not read must not keep the session (and its actor connection) open."""
        self.close_code = code
        self.close_reason = reason
        self.outbox.put_nowait(_CLOSE)
        with contextlib.suppress(Exception):  # the socket may be gone already
            await asyncio.wait_for(asyncio.shield(writer), CLOSE_AFTER_ACTIONS_S)
        writer.cancel()

    async def _read_loop(self, writer: asyncio.Task[None]) -> None:
        ws = self.ws
        limit = self.server.config.max_body
        while True:
            if writer.done():
                return
            try:
                message = await ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            kind = message["type"]
            if kind == "websocket.disconnect":
                return
            data: bytes
            if message.get("bytes") is not None:
                data = message["bytes"]
            elif message.get("text") is not None:
                data = message["text"].encode()
            else:
                continue
            if len(data) > limit:
                # As Rivet (rivetkit-core registry/websocket.rs): a message over the incoming
                # limit closes the connection with 1011 `message.incoming_too_long`, no Error
                # frame; nothing in it is read. Frames queued before the close still go out.
                _log.warning("closing connection %s: %s", self.conn_id(), _too_long(len(data), limit).message)
                await self._close_after_queued(writer, 1011, "message.incoming_too_long")
                return
            invalid = self._handle(data)
            if invalid is not None:
                # As Rivet (rivetkit-core registry/websocket.rs): a message that cannot be
                # decoded closes the connection with 1011 `actor.invalid_request`, no Error
                # frame; nothing in it runs. Frames queued before the close still go out.
                _log.warning("closing connection %s: invalid message (%s)", self.conn_id(), invalid)
                await self._close_after_queued(writer, 1011, "actor.invalid_request")
                return

    def _handle(self, data: bytes) -> str | None:
        """Run one message. A message that cannot be read (not CBOR or JSON, not a frame of the
        protocol: a wrong shape, an unknown tag, a field of the wrong type) is not run; the
        reason is returned and the caller closes the connection."""
        try:
            frame = decode(data, self.encoding)
        except WireDecodeError as exc:
            return f"malformed {self.encoding} frame: {exc}"
        body = frame.get("body") if isinstance(frame, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("tag"), str) or not isinstance(body.get("val"), dict):
            return "expected a frame {body: {tag, val}}"
        tag = body["tag"]
        val: dict[str, Any] = body["val"]
        if tag == "ActionRequest":
            action_id = val.get("id")
            if not isinstance(action_id, int) or isinstance(action_id, bool) or action_id < 0:
                return "ActionRequest.id must be a non-negative integer"
            name = val.get("name")
            if not isinstance(name, str):
                return "ActionRequest.name must be a string"
            if "args" not in val:
                return "ActionRequest.args is missing"
            args = val["args"]
            if args is None:
                args = []
            elif not isinstance(args, list):
                args = [args]
            task = asyncio.get_running_loop().create_task(self._action(action_id, name, args))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return None
        if tag == "SubscriptionRequest":
            event = val.get("eventName")
            subscribe = val.get("subscribe")
            if not isinstance(event, str) or not isinstance(subscribe, bool):
                return "SubscriptionRequest needs eventName (string) and subscribe (boolean)"
            if self.conn is not None:
                if subscribe:
                    self.conn.subscriptions.add(event)
                else:
                    self.conn.subscriptions.discard(event)
            return None
        return f"unknown message tag {tag!r}"

    async def _action(self, action_id: int, name: str, args: list[Any]) -> None:
        conn = self.conn
        if conn is None:
            return
        try:
            output = await self.runtime.conn_call(self.actor_id, conn, name, args)
            reply = _frame("ActionResponse", {"id": BigInt(action_id), "output": output})
        except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
            reply = _error_frame(exc, action_id)
        try:
            self._send_bounded(reply)
        except Exception as exc:  # noqa: BLE001  (a reply too long, or one the encoding cannot carry)
            # The caller gets why (message/outgoing_too_long); the connection stays open, as in Rivet.
            self._send_now(_error_frame(exc, action_id))


def create_app(
    runtime: Runtime,
    config: ServerConfig | None = None,
    *,
    extra_routes: list[Route] | None = None,
) -> Starlette:
    """The ASGI app serving ``runtime`` (started and stopped with the app's lifespan)."""
    from ._inspector import inspector_routes

    server = RivetServer(runtime, config or ServerConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    routes: list[Route | WebSocketRoute] = [
        # Hot routes first (Starlette tries routes in order).
        Route("/gateway/{actor}/action/{name}", server.action, methods=["POST"]),
        Route("/gateway/{actor}/queue/{name}", server.queue, methods=["POST"]),
        WebSocketRoute("/gateway/{actor}/connect", server.connect),
        Route("/gateway/{actor}/health", server.gateway_health, methods=["GET"]),
        Route("/metadata", server.metadata, methods=["GET"]),
        Route("/health", server.health, methods=["GET"]),
        Route("/actors", server.put_actors, methods=["PUT"]),
        Route("/actors", server.post_actors, methods=["POST"]),
        Route("/actors", server.list_actors, methods=["GET"]),
        Route("/actors/{actor_id}", server.delete_actor, methods=["DELETE"]),
        *inspector_routes(server),
        *(extra_routes or []),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found, 405: _method_not_allowed})
    app.state.rivet = server
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(WireError(f"No route for {request.method} {request.url.path}", code="not_found", status=404), "json")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(
        WireError(f"Method {request.method} is not allowed on {request.url.path}", group="request", code="method_not_allowed", status=405),
        "json",
    )


Handler = Callable[[Request], Awaitable[Response]]
