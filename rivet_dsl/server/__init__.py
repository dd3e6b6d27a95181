"""The Rivet-compatible HTTP/WebSocket server (RivetKit 2.3's gateway protocol).

``serve(registry, ...)`` runs it with uvicorn until SIGINT/SIGTERM (in-flight requests finish,
then every live actor sleeps and saves); ``create_app(runtime)`` gives the ASGI app.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .._registry import Registry
    from ..runtime import Runtime
    from ._app import ServerConfig

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_MAX_OUTGOING", "KEEP_ALIVE_S", "build_app", "create_app", "run_app", "serve", "uvicorn_config"]

#: Default limit for action/queue bodies and WebSocket messages (Rivet's incoming soft limit).
DEFAULT_MAX_BODY = 64 * 1024
#: Default limit for action/queue responses and WebSocket frames to clients (Rivet's
#: ``maxOutgoingMessageSize``); over it: ``message.outgoing_too_long``.
DEFAULT_MAX_OUTGOING = 1024 * 1024


def create_app(runtime: Runtime, config: ServerConfig | None = None) -> Starlette:
    """The ASGI app serving ``runtime`` (started and stopped by the app's lifespan)."""
    from ._app import create_app as _create_app

    return _create_app(runtime, config)


def build_app(
    registry: Registry,
    *,
    db: str,
    fsync: bool = False,
    dev: bool = True,
    inspector_token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    max_outgoing: int = DEFAULT_MAX_OUTGOING,
) -> Starlette:
    """The ASGI app for ``registry`` on a SQLite store at ``db`` (runtime started by the lifespan)."""
    from ..runtime import Runtime
    from ..storage import SqliteStorage
    from ._app import ServerConfig

    directory = os.path.dirname(os.path.abspath(db))
    os.makedirs(directory, exist_ok=True)
    runtime = Runtime(registry, storage=SqliteStorage(db, fsync=fsync))
    config = ServerConfig(dev=dev, inspector_token=inspector_token, max_body=max_body, max_outgoing=max_outgoing)
    return create_app(runtime, config)


def serve(
    registry: Registry,
    *,
    host: str = "127.0.0.1",
    port: int = 6420,
    db: str = ".rivet/rivet.db",
    fsync: bool = False,
    dev: bool = True,
    inspector_token: str | None = None,
    log_level: str = "warning",
    max_body: int = DEFAULT_MAX_BODY,
    max_outgoing: int = DEFAULT_MAX_OUTGOING,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve ``registry`` over HTTP and WebSocket; blocks until SIGINT or SIGTERM.

    ``max_body`` and ``max_outgoing`` are the incoming and outgoing message limits in bytes
    (``rivet-dsl serve --max-incoming-bytes/--max-outgoing-bytes``); ``on_listening`` is
    called with the server's URL once it listens (see :func:`run_app`).
    """
    app = build_app(
        registry,
        db=db,
        fsync=fsync,
        dev=dev,
        inspector_token=inspector_token,
        max_body=max_body,
        max_outgoing=max_outgoing,
    )
    logging.getLogger("rivet_dsl.server").info("serving %s on http://%s:%d", registry, host, port)
    run_app(app, host=host, port=port, log_level=log_level, on_listening=on_listening)


#: Seconds an idle HTTP keep-alive connection stays open. Longer than clients keep idle
#: connections for reuse (httpx and our client: 5 s and 4 s; uvicorn's default is also 5 s):
#: otherwise a server closing a connection at the moment a busy client reuses it fails that
#: request with a read error (seen under load in the SIGKILL test's first batch).
KEEP_ALIVE_S = 30


def uvicorn_config(app: Starlette, *, host: str, port: int, log_level: str = "warning") -> Any:
    """The ``uvicorn.Config`` :func:`run_app` serves ``app`` with."""
    import uvicorn

    from ._ws_protocol import WebSocketProtocol

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=WebSocketProtocol,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        ws_max_size=32 * 1024 * 1024,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=KEEP_ALIVE_S,
        server_header=False,
        date_header=False,
    )


def run_app(
    app: Starlette,
    *,
    host: str,
    port: int,
    log_level: str = "warning",
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Run an app from :func:`build_app`/:func:`create_app` with uvicorn until SIGINT/SIGTERM.

    ``on_listening(url)`` is called once the sockets listen, with the port actually bound
    (``port=0`` picks a free one).
    """
    import socket

    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if not self.started or on_listening is None:
                return
            bound = [sock for server in self.servers for sock in server.sockets]
            bound_port = int(bound[0].getsockname()[1]) if bound else port
            on_listening(f"http://{f'[{host}]' if ':' in host else host}:{bound_port}")

    server = _Server(uvicorn_config(app, host=host, port=port, log_level=log_level))
    from ..runtime import tune_interpreter

    tune_interpreter()
    # uvicorn handles SIGINT/SIGTERM (graceful: in-flight requests finish, then the lifespan stops
    # the runtime, so actors sleep and save) and re-raises the signal afterwards for the previous
    # handler. A no-op previous handler turns that into a clean exit with status 0.
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _after_graceful_exit)
    try:
        server.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _after_graceful_exit(sig: int, frame: FrameType | None) -> None:
    return None
