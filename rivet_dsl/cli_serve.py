"""``rivet-dsl serve MODULE:REGISTRY``: run the HTTP/WebSocket server."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

__all__ = ["load_registry", "serve_main"]


def load_registry(spec: str) -> Any:
    """Import ``module:attribute`` and return the registry it names."""
    from ._registry import Registry

    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:REGISTRY, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    if not hasattr(module, attribute):
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}")
    registry = getattr(module, attribute)
    if not isinstance(registry, Registry):
        raise ValueError(f"{spec} is not a Registry (got {type(registry).__name__})")  # noqa: TRY004  (a usage error)
    return registry


def _byte_count(text: str) -> int:
    """A positive whole number of bytes (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number of bytes, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number of bytes, got {text!r}")
    return value


def serve_main(argv: list[str]) -> int:
    """``rivet-dsl serve module:registry [--host] [--port] [--db] [--fsync] [--dev/--no-dev]
    [--max-incoming-bytes N] [--max-outgoing-bytes N] [--log-level L]``."""
    from .server import DEFAULT_MAX_BODY, DEFAULT_MAX_OUTGOING

    parser = argparse.ArgumentParser(prog="rivet-dsl serve", description="Serve a registry over HTTP and WebSocket.")
    parser.add_argument("registry", help="MODULE:REGISTRY, e.g. examples.counter:registry")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6420)
    parser.add_argument("--db", default=".rivet/rivet.db", help="SQLite database path")
    parser.add_argument("--fsync", action="store_true", help="synchronous=FULL (survives power loss)")
    parser.add_argument("--dev", action=argparse.BooleanOptionalAction, default=True, help="dev mode (inspector without token)")
    parser.add_argument("--inspector-token", default=os.environ.get("RIVET_INSPECTOR_TOKEN"))
    parser.add_argument(
        "--log-level",
        default="warning",
        help="uvicorn's log level (default %(default)s; at info and below uvicorn announces itself, "
        "otherwise one 'rivet-dsl: serving ...' line does once the server listens)",
    )
    parser.add_argument(
        "--max-incoming-bytes",
        type=_byte_count,
        default=DEFAULT_MAX_BODY,
        metavar="N",
        help="largest action/queue body or WebSocket message accepted (default %(default)s; "
        "over it: message.incoming_too_long)",
    )
    parser.add_argument(
        "--max-outgoing-bytes",
        type=_byte_count,
        default=DEFAULT_MAX_OUTGOING,
        metavar="N",
        help="largest response or WebSocket frame sent (default %(default)s; over it: message.outgoing_too_long)",
    )
    args = parser.parse_args(argv)
    try:
        registry = load_registry(args.registry)
    except (ImportError, ValueError) as exc:
        print(f"rivet-dsl serve: {exc}", file=sys.stderr)
        return 2
    from ._errors import DatabaseInUseError
    from .server import build_app, run_app
    from .storage._lock import OwnershipLock

    # Refuse a database another server or runtime has open here, with a plain message: the
    # store would refuse it anyway, but from inside the server's startup (a traceback).
    try:
        ownership = OwnershipLock.acquire(args.db)
    except DatabaseInUseError as exc:
        print(f"rivet-dsl serve: error: {exc.message} [{exc.group}/{exc.code}]", file=sys.stderr)
        return 1
    except FileNotFoundError:
        ownership = None  # no directory yet, so no owner (the store creates it)
    if ownership is not None:
        ownership.release()

    app = build_app(
        registry,
        db=args.db,
        fsync=args.fsync,
        dev=args.dev,
        inspector_token=args.inspector_token,
        max_body=args.max_incoming_bytes,
        max_outgoing=args.max_outgoing_bytes,
    )
    storage = f"SQLite {args.db}" + (", fsync" if args.fsync else "")

    def announce(url: str) -> None:
        print(f"rivet-dsl: serving {args.registry} on {url} (storage: {storage})", file=sys.stderr, flush=True)

    # At info level and below uvicorn says it itself ("Uvicorn running on ..."): no second line.
    quiet = args.log_level.lower() not in _UVICORN_ANNOUNCES
    run_app(app, host=args.host, port=args.port, log_level=args.log_level, on_listening=announce if quiet else None)
    return 0


#: Log levels at which uvicorn itself prints ``Uvicorn running on ...`` once it listens.
_UVICORN_ANNOUNCES = frozenset({"info", "debug", "trace"})
