"""The frozen intermediate representation between introspection and rendering.

Everything a template or the OpenAPI builder needs is computed once by
:mod:`codegen._introspect`; the IR holds only strings, tuples and JSON-ready schemas, in a
deterministic order (sorted by name, or declaration order where order is the wire contract,
such as action parameters and struct fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ActionSpec",
    "ActorSpec",
    "ApiSpec",
    "EnumDecl",
    "EnumMember",
    "EventSpec",
    "FieldDecl",
    "ParamSpec",
    "QueueSpec",
    "StructDecl",
    "TypeRef",
    "TypedDictDecl",
]


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A type as the generated code spells it and as the OpenAPI document describes it."""

    #: The annotation in the generated module (``"list[Message] | None"``).
    annotation: str
    #: The JSON Schema (``$ref`` into ``components.schemas`` for named types).
    schema: Mapping[str, Any]
    #: True for ``None`` (no value on the wire).
    is_none: bool = False
    #: True when ``None`` is a valid value (``None`` itself, optionals, ``Any``).
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One action parameter, positional on the wire, in declaration order."""

    #: The name in the generated method (the server's name, with a ``_`` suffix if it would clash).
    name: str
    type: TypeRef
    #: Python source of the default value, or ``None`` for a required parameter.
    default: str | None
    #: The parameter's name on the server (the OpenAPI title).
    server_name: str


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action: ``POST /gateway/{actor}/action/{name}``."""

    name: str
    #: The method name on the generated handle (the wire name made a safe identifier).
    method: str
    params: tuple[ParamSpec, ...]
    returns: TypeRef
    doc: str | None


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue: ``POST /gateway/{actor}/queue/{name}``."""

    name: str
    attr: str
    body: TypeRef
    response: TypeRef
    doc: str | None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An event broadcast to subscribed connections."""

    name: str
    attr: str
    payload: TypeRef
    doc: str | None


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """One actor of the registry."""

    #: The wire name (``"chat_room"``).
    name: str
    #: The attribute on the generated ``Client`` (the wire name made a safe identifier).
    attr: str
    #: The prefix of the generated classes (``"ChatRoom"`` -> ``ChatRoomHandle``).
    class_name: str
    doc: str | None
    actions: tuple[ActionSpec, ...]
    queues: tuple[QueueSpec, ...]
    events: tuple[EventSpec, ...]


@dataclass(frozen=True, slots=True)
class FieldDecl:
    """A field of a re-declared struct or TypedDict."""

    name: str
    annotation: str
    #: Python source of the right-hand side (``"0"``, ``"msgspec.field(default_factory=list)"``), or None.
    default: str | None


@dataclass(frozen=True, slots=True)
class StructDecl:
    """A ``msgspec.Struct`` re-declared under the user's class name."""

    name: str
    #: Class keywords in source form (``("frozen=True", "tag='a'")``).
    options: tuple[str, ...]
    fields: tuple[FieldDecl, ...]
    doc: str | None


@dataclass(frozen=True, slots=True)
class TypedDictDecl:
    """A ``TypedDict`` re-declared under the user's class name."""

    name: str
    fields: tuple[FieldDecl, ...]
    doc: str | None
    #: True when a key is not an identifier (or is a keyword): written ``Name = TypedDict("Name", {...})``.
    functional: bool = False


@dataclass(frozen=True, slots=True)
class EnumMember:
    """One enum member: its name and the Python source of its value."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class EnumDecl:
    """An enum re-declared under the user's class name."""

    name: str
    base: Literal["enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.IntFlag", "enum.Flag"]
    members: tuple[EnumMember, ...]
    doc: str | None
    #: True when a member name is not an identifier (or is a keyword): written ``Name = enum.Enum("Name", {...})``.
    functional: bool = False


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """A whole registry: what one generated module and one OpenAPI document describe."""

    #: The registry's module (``"examples.counter"``).
    module: str
    #: The import reference (``"examples.counter:registry"``).
    ref: str
    #: The output stem (``"counter"``).
    stem: str
    actors: tuple[ActorSpec, ...]
    enums: tuple[EnumDecl, ...]
    structs: tuple[StructDecl, ...]
    typed_dicts: tuple[TypedDictDecl, ...]
    #: Standard-library modules the annotations need (``"datetime"``, ``"uuid"``, ...).
    imports: tuple[str, ...]
    #: Names imported from ``typing`` by the generated module.
    typing_names: tuple[str, ...]
    #: Module-level constants for defaults that are not literals: (name, source).
    constants: tuple[tuple[str, str], ...]
    #: ``components.schemas`` (sorted by name).
    components: Mapping[str, Any]
