"""The registry: an explicit list of actor classes, checked for name clashes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ._errors import DefinitionError
from .actor._base import Actor
from .actor._definition import ActorDefinition

__all__ = ["Registry", "setup"]


class Registry:
    """The actors served together. Build it with :func:`setup`."""

    def __init__(self, actors: Sequence[type[Actor[Any]]]) -> None:
        problems: list[str] = []
        definitions: dict[str, ActorDefinition] = {}
        for cls in actors:
            definition = getattr(cls, "__rivet_definition__", None)
            if definition is None or not issubclass(cls, Actor):
                problems.append(f"{cls!r} is not an Actor subclass")
                continue
            if definition.name in definitions and definitions[definition.name].cls is not cls:
                problems.append(f"two actors are named {definition.name!r}")
            definitions[definition.name] = definition
        if problems:
            raise DefinitionError("registry", problems)
        self.definitions: Mapping[str, ActorDefinition] = MappingProxyType(definitions)

    @property
    def actors(self) -> list[type[Actor[Any]]]:
        """The registered classes, in registration order."""
        return [d.cls for d in self.definitions.values()]

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 6420,
        *,
        db: str = ".rivet/rivet.db",
        fsync: bool = False,
        dev: bool = True,
        inspector_token: str | None = None,
        max_body: int | None = None,
        max_outgoing: int | None = None,
    ) -> None:
        """Serve this registry over HTTP and WebSocket (blocks until SIGINT/SIGTERM).

        ``max_body`` and ``max_outgoing`` are the incoming and outgoing message limits in bytes
        (``None``: the server's defaults, 64 KiB and 1 MiB, as in Rivet)."""
        from .server import DEFAULT_MAX_BODY, DEFAULT_MAX_OUTGOING, serve

        serve(
            self,
            host=host,
            port=port,
            db=db,
            fsync=fsync,
            dev=dev,
            inspector_token=inspector_token,
            max_body=DEFAULT_MAX_BODY if max_body is None else max_body,
            max_outgoing=DEFAULT_MAX_OUTGOING if max_outgoing is None else max_outgoing,
        )

    def __repr__(self) -> str:
        return f"Registry({sorted(self.definitions)})"


def setup(*actors: type[Actor[Any]], use: Sequence[type[Actor[Any]]] | None = None) -> Registry:
    """Build a registry: ``setup(Counter, Chat)`` or ``setup(use=[Counter, Chat])``."""
    return Registry([*actors, *(use or ())])
