"""The Rivet-compatible HTTP/WebSocket server (placeholder until the server lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._registry import Registry

__all__ = ["serve"]


def serve(registry: Registry, *, host: str, port: int, db: str, fsync: bool, dev: bool) -> None:
    """Serve ``registry`` (not available yet)."""
    raise NotImplementedError("the server is not available yet")
