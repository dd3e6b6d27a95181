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
    ) -> None:
        """Serve this registry over HTTP and WebSocket (blocks until SIGINT/SIGTERM)."""
        from .server import serve

        serve(self, host=host, port=port, db=db, fsync=fsync, dev=dev)

    def __repr__(self) -> str:
        return f"Registry({sorted(self.definitions)})"


def setup(*actors: type[Actor[Any]], use: Sequence[type[Actor[Any]]] | None = None) -> Registry:
    """Build a registry: ``setup(Counter, Chat)`` or ``setup(use=[Counter, Chat])``."""
    return Registry([*actors, *(use or ())])
