"""Registry -> :class:`~codegen._ir.ApiSpec`.

Types are read through ``msgspec.inspect.type_info`` (for the Python declarations) and
``msgspec.json.schema_components`` (for the OpenAPI components); ``typing`` objects are never
walked by hand. Everything the templates need is computed here, once, in a deterministic order.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import enum
import importlib
import inspect
import keyword
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import msgspec.inspect as mi

from ._ir import (
    ActionSpec,
    ActorSpec,
    ApiSpec,
    EnumDecl,
    EnumMember,
    EventSpec,
    FieldDecl,
    ParamSpec,
    QueueSpec,
    StructDecl,
    TypedDictDecl,
    TypeRef,
)

if TYPE_CHECKING:
    from rivet_dsl import Registry

__all__ = ["CodegenError", "build_spec", "identifier", "load_registry", "member", "pysource"]

REF_TEMPLATE = "#/components/schemas/{name}"

#: Names the generated module defines or imports itself; a user type may not reuse them.
RESERVED_NAMES = frozenset(
    {
        "ActorConnection",
        "ActorError",
        "ActorHandle",
        "ActorKey",
        "Annotated",
        "Any",
        "Callable",
        "Client",
        "Generic",
        "Literal",
        "NotRequired",
        "QueueSendResult",
        "RawClient",
        "RivetError",
        "TracebackType",
        "Transport",
        "TypeVar",
        "TypedDict",
        "datetime",
        "decimal",
        "enum",
        "final",
        "msgspec",
        "overload",
        "uuid",
    }
)

#: Members of generated handles and connections (public and internal); an action with one of these
#: names gets a ``_`` suffix. Names starting with ``__`` are handled by :func:`member`.
HANDLE_MEMBERS = frozenset(
    {
        "_call",
        "raw",
        "queues",
        "events",
        "resolve",
        "destroy",
        "connect",
        "close",
        "open",
        "actor_id",
        "connection_id",
    }
)
#: Members of the generated ``Client``.
CLIENT_MEMBERS = frozenset({"raw", "aclose"})
#: Names a generated action method's body uses besides the return annotation (``self``, its
#: locals and the module-level ``_decode``); a parameter with one of these names gets a ``_`` suffix.
METHOD_LOCALS = frozenset({"self", "raw", "result", "_decode"})

_BUILTIN_FACTORIES: dict[Any, str] = {
    list: "list",
    dict: "dict",
    set: "set",
    frozenset: "frozenset",
    tuple: "tuple",
    bytearray: "bytearray",
    bytes: "bytes",
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
}


class CodegenError(Exception):
    """Raised when a registry cannot be turned into a client (the message says why and where)."""


def load_registry(ref: str) -> tuple[Registry, str]:
    """Import ``"package.module:attribute"``; returns the registry and its module name."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise CodegenError(f"expected MODULE:REGISTRY (e.g. examples.counter:registry), got {ref!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CodegenError(f"cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # the module itself fails (an invalid actor class raises DefinitionError)
        raise CodegenError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    registry = getattr(module, attr, None)
    if registry is None or not hasattr(registry, "definitions"):
        raise CodegenError(f"{ref!r} is not a registry (rivet_dsl.setup(...))")
    return registry, module_name


def identifier(name: str, reserved: Iterable[str] = ()) -> str:
    """A safe Python identifier for a wire name (``"cron-tick"`` -> ``"cron_tick"``)."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    while keyword.iskeyword(ident) or ident in reserved:
        ident += "_"
    return ident


def member(name: str, reserved: Iterable[str] = ()) -> str:
    """A safe attribute name of a generated class for a wire name.

    Like :func:`identifier`; a name starting with ``__`` also gets ``_`` suffixes until it ends
    with ``___``, so it is neither name-mangled (``__x``) nor a special method (``__init__``).
    """
    ident = identifier(name, reserved)
    while (ident.startswith("__") and not ident.endswith("___")) or ident in reserved:
        ident += "_"
    return ident


def _names_in(annotation: str) -> set[str]:
    """The names an annotation expression looks up (``"list[Item] | None"`` -> ``{"list", "Item"}``)."""
    tree = ast.parse(annotation, mode="eval")
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _doc(text: str | None) -> str | None:
    return inspect.cleandoc(text) if text else None


class _Types:
    """Turns type_info trees into annotations and collects the named types to re-declare."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}  # class name -> class
        self.enums: dict[str, EnumDecl] = {}
        self.structs: dict[str, StructDecl] = {}
        self.typed_dicts: dict[str, TypedDictDecl] = {}
        self.imports: set[str] = set()
        self.typing_names: set[str] = set()
        self._pending: list[mi.Type] = []
        self.python_names: dict[Any, str] = {}

    # ----------------------------------------------------------------- annotations
    def annotation(self, tp: Any) -> str:
        return self._ann(mi.type_info(tp))

    def _meta(self, base: str, **constraints: Any) -> str:
        given = {k: v for k, v in constraints.items() if v is not None}
        if not given:
            return base
        self.typing_names.add("Annotated")
        args = ", ".join(f"{k}={pysource(v)}" for k, v in given.items())
        return f"Annotated[{base}, msgspec.Meta({args})]"

    def prepare(self, types: Iterable[Any]) -> None:
        """Choose a Python name for every named type (as msgspec names schema components: the
        class name, or the full import path when two different classes share a name)."""
        classes: dict[Any, None] = {}
        seen: set[int] = set()

        def walk(node: Any) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            if isinstance(node, (mi.StructType, mi.DataclassType, mi.NamedTupleType, mi.TypedDictType, mi.EnumType)):
                classes[node.cls] = None
            if isinstance(node, mi.Field):
                walk(node.type)
            elif isinstance(node, mi.Type) and not isinstance(node, mi.EnumType):
                for attr in type(node).__struct_fields__:
                    value = getattr(node, attr)
                    for item in value if isinstance(value, tuple) else (value,):
                        if isinstance(item, (mi.Type, mi.Field)):
                            walk(item)

        for node in mi.multi_type_info(list(types)):
            walk(node)
        by_name: dict[str, list[Any]] = {}
        for cls in classes:
            by_name.setdefault(cls.__name__, []).append(cls)
        for name, group in by_name.items():
            for cls in group:
                full = re.sub(r"\W", "_", f"{cls.__module__}.{cls.__qualname__}", flags=re.ASCII)
                self.python_names[cls] = name if len(group) == 1 else full

    def _named(self, cls: Any, node: mi.Type) -> str:
        name: str = self.python_names.get(cls, cls.__name__)
        if getattr(cls, "__parameters__", ()):
            raise CodegenError(f"generic type {cls!r} is not supported by codegen; use a concrete type")
        known = self.named.get(name)
        if known is not None and known is not cls:
            raise CodegenError(f"two different types are named {name!r}; rename one")
        if name in RESERVED_NAMES:
            raise CodegenError(f"type name {name!r} clashes with a name the generated client defines; rename it")
        if known is None:
            self.named[name] = cls
            self._pending.append(node)
        return name

    def _ann(self, t: mi.Type) -> str:
        if isinstance(t, mi.Metadata):
            return self._ann(t.type)
        if isinstance(t, mi.AnyType):
            self.typing_names.add("Any")
            return "Any"
        if isinstance(t, mi.NoneType):
            return "None"
        if isinstance(t, mi.BoolType):
            return "bool"
        if isinstance(t, (mi.IntType, mi.FloatType)):
            base = "int" if isinstance(t, mi.IntType) else "float"
            return self._meta(base, gt=t.gt, ge=t.ge, lt=t.lt, le=t.le, multiple_of=t.multiple_of)
        if isinstance(t, mi.StrType):
            return self._meta("str", min_length=t.min_length, max_length=t.max_length, pattern=t.pattern)
        if isinstance(t, (mi.BytesType, mi.ByteArrayType, mi.MemoryViewType)):
            base = {mi.BytesType: "bytes", mi.ByteArrayType: "bytearray", mi.MemoryViewType: "memoryview"}[type(t)]
            return self._meta(base, min_length=t.min_length, max_length=t.max_length)
        if isinstance(t, (mi.DateTimeType, mi.TimeType)):
            self.imports.add("datetime")
            base = "datetime.datetime" if isinstance(t, mi.DateTimeType) else "datetime.time"
            return self._meta(base, tz=t.tz)
        if isinstance(t, (mi.DateType, mi.TimeDeltaType)):
            self.imports.add("datetime")
            return "datetime.date" if isinstance(t, mi.DateType) else "datetime.timedelta"
        if isinstance(t, mi.UUIDType):
            self.imports.add("uuid")
            return "uuid.UUID"
        if isinstance(t, mi.DecimalType):
            self.imports.add("decimal")
            return "decimal.Decimal"
        if isinstance(t, mi.RawType):
            return "msgspec.Raw"
        if isinstance(t, mi.LiteralType):
            self.typing_names.add("Literal")
            return "Literal[" + ", ".join(pysource(v) for v in t.values) + "]"
        if isinstance(t, mi.UnionType):
            return " | ".join(self._ann(member) for member in t.types)
        if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
            item = self._ann(t.item_type)
            base = {
                mi.ListType: f"list[{item}]",
                mi.SetType: f"set[{item}]",
                mi.FrozenSetType: f"frozenset[{item}]",
                mi.VarTupleType: f"tuple[{item}, ...]",
            }[type(t)]
            return self._meta(base, min_length=t.min_length, max_length=t.max_length)
        if isinstance(t, mi.TupleType):
            items = ", ".join(self._ann(item) for item in t.item_types)
            return f"tuple[{items or '()'}]"
        if isinstance(t, (mi.DictType, mi.FrozenDictType)):
            base = f"dict[{self._ann(t.key_type)}, {self._ann(t.value_type)}]"
            return self._meta(base, min_length=t.min_length, max_length=t.max_length)
        if isinstance(t, (mi.StructType, mi.DataclassType, mi.NamedTupleType, mi.TypedDictType, mi.EnumType)):
            return self._named(t.cls, t)
        raise CodegenError(f"type {t!r} cannot be described for a JSON client")

    # ----------------------------------------------------------------- declarations
    def declare_pending(self) -> None:
        while self._pending:
            node = self._pending.pop()
            if isinstance(node, mi.EnumType):
                self._declare_enum(node.cls)
            elif isinstance(node, mi.TypedDictType):
                self._declare_typed_dict(node)
            elif isinstance(node, (mi.StructType, mi.DataclassType, mi.NamedTupleType)):
                self._declare_struct(node)

    def _declare_enum(self, cls: type[enum.Enum]) -> None:
        base: Any
        for candidate, base in (
            (enum.IntFlag, "enum.IntFlag"),
            (enum.Flag, "enum.Flag"),
            (enum.IntEnum, "enum.IntEnum"),
            (enum.StrEnum, "enum.StrEnum"),
        ):
            if issubclass(cls, candidate):
                break
        else:
            base = "enum.Enum"
        self.imports.add("enum")
        members = tuple(EnumMember(member.name, pysource(member.value)) for member in cls)
        doc = _class_doc(cls)
        name = self.python_names.get(cls, cls.__name__)
        functional = not all(_is_plain_name(m.name) for m in members)
        self.enums[name] = EnumDecl(name, base, members, None if doc == "An enumeration." else doc, functional)

    def _field_default(self, field: mi.Field, annotation: str, owner: str) -> str | None:
        if field.required:
            return None
        if field.default is not msgspec.NODEFAULT:
            source = _literal(field.default, self.python_names)
            if source is not None:
                return source
            if isinstance(field.default, (list, dict, set, bytearray)) and not field.default:
                return f"msgspec.field(default_factory={type(field.default).__name__})"
            if _is_empty_instance(field.default) and type(field.default) in self.python_names:
                return f"msgspec.field(default_factory={self.python_names[type(field.default)]})"
            return f"msgspec.field(default_factory=lambda: {self._convert_source(field.default, annotation)})"
        factory = field.default_factory
        if factory is msgspec.NODEFAULT:
            return None
        return self._factory_source(factory, annotation, f"{owner}.{field.name}")

    def _factory_source(self, factory: Callable[[], Any], annotation: str, what: str) -> str:
        name = _BUILTIN_FACTORIES.get(factory)
        if name is not None:
            return f"msgspec.field(default_factory={name})"
        module = getattr(factory, "__module__", None)
        qualname = getattr(factory, "__qualname__", "")
        if module in sys.stdlib_module_names and "<" not in qualname:
            self.imports.add(module)
            return f"msgspec.field(default_factory={module}.{qualname})"
        if factory in self.python_names:
            return f"msgspec.field(default_factory={self.python_names[factory]})"
        first, second = factory(), factory()
        if first != second:
            raise CodegenError(
                f"field {what}: its default factory {factory!r} is not a standard-library function "
                "and returns different values; give it a literal default or a stdlib factory"
            )
        source = _literal(first, self.python_names)
        if source is None:
            source = self._convert_source(first, annotation)
        return f"msgspec.field(default_factory=lambda: {source})"

    def _convert_source(self, value: Any, annotation: str) -> str:
        return f"msgspec.convert({pysource(msgspec.to_builtins(value))}, {annotation})"

    def _declare_struct(self, node: mi.StructType | mi.DataclassType | mi.NamedTupleType) -> None:
        cls: Any = node.cls
        options: list[str] = []
        if isinstance(node, mi.StructType):
            config = cls.__struct_config__
            if config.frozen:
                options.append("frozen=True")
            if config.order:
                options.append("order=True")
            if not config.eq:
                options.append("eq=False")
            if config.array_like:
                options.append("array_like=True")
            if config.forbid_unknown_fields:
                options.append("forbid_unknown_fields=True")
            if config.omit_defaults:
                options.append("omit_defaults=True")
            if config.tag is not None:
                options.append(f"tag={pysource(config.tag)}")
                options.append(f"tag_field={pysource(config.tag_field)}")
        elif isinstance(node, mi.NamedTupleType):
            options += ["frozen=True", "array_like=True"]
        elif cls.__dataclass_params__.frozen:
            options.append("frozen=True")
        fields: list[FieldDecl] = []
        seen_default = False
        kw_only = False
        taken = {field.name for field in node.fields}
        for field in node.fields:
            annotation = self._ann(field.type)
            default = self._field_default(field, annotation, cls.__name__)
            attr = field.name
            if not _is_plain_name(attr):  # defstruct/make_dataclass accept any string: rename, keep the wire name
                attr = identifier(attr, taken)
                taken.add(attr)
            if field.encode_name != attr:
                name = pysource(field.encode_name)
                if default is None:
                    default = f"msgspec.field(name={name})"
                elif default.startswith("msgspec.field("):
                    default = f"msgspec.field(name={name}, {default[len('msgspec.field('):]}"
                else:
                    default = f"msgspec.field(name={name}, default={default})"
            if field.required and seen_default:
                kw_only = True
            seen_default = seen_default or not field.required
            fields.append(FieldDecl(attr, annotation, default))
        if kw_only or _has_kw_only(cls):
            options.append("kw_only=True")
        name = self.python_names.get(cls, cls.__name__)
        self.structs[name] = StructDecl(name, tuple(options), tuple(fields), _class_doc(cls))

    def _declare_typed_dict(self, node: mi.TypedDictType) -> None:
        fields: list[FieldDecl] = []
        for field in node.fields:
            annotation = self._ann(field.type)
            if not field.required:
                self.typing_names.add("NotRequired")
                annotation = f"NotRequired[{annotation}]"
            fields.append(FieldDecl(field.name, annotation, None))
        self.typing_names.add("TypedDict")
        name = self.python_names.get(node.cls, node.cls.__name__)
        functional = not all(_is_plain_name(f.name) for f in fields)
        self.typed_dicts[name] = TypedDictDecl(name, tuple(fields), _class_doc(node.cls), functional)


def _is_plain_name(name: str) -> bool:
    """Whether ``name`` can be written as an attribute in a class body (an identifier, not a keyword)."""
    return name.isidentifier() and not keyword.iskeyword(name)


def _class_doc(cls: type) -> str | None:
    doc = cls.__dict__.get("__doc__")
    if not doc or doc.startswith(cls.__name__ + "("):  # the docs dataclass and namedtuple make up
        return None
    if doc == getattr(tuple, "__doc__", None):
        return None
    return _doc(doc)


def _is_empty_instance(value: Any) -> bool:
    """Whether ``value`` equals its class called without arguments (``Progress()``)."""
    try:
        return bool(type(value)() == value)
    except (TypeError, ValueError):  # a class that needs arguments
        return False


def _has_kw_only(cls: type) -> bool:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())


def pysource(value: Any) -> str:
    """Python source for plain data (str, numbers, bool, None, bytes, lists, dicts), double-quoted."""
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1].replace("\\'", "'") + '"'
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, list):
        return "[" + ", ".join(pysource(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{pysource(k)}: {pysource(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _literal(value: Any, names: Mapping[Any, str] | None = None) -> str | None:
    """Python source for a value that is its own literal, else None."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return pysource(value)
    if isinstance(value, enum.Enum):
        cls = names.get(type(value), type(value).__name__) if names else type(value).__name__
        if type(value).__members__.get(value.name) is not value:  # a combination of flags
            return None
        return f"{cls}.{value.name}" if _is_plain_name(value.name) else f"{cls}[{pysource(value.name)}]"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return pysource(value)
    if isinstance(value, (tuple, frozenset)):
        sources = [_literal(v, names) for v in value]
        items = [item for item in sources if item is not None]
        if len(items) != len(sources):
            return None
        if isinstance(value, frozenset):
            return "frozenset({" + ", ".join(sorted(items)) + "})" if items else "frozenset()"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return None


def _type_ref(types: _Types, tp: Any, schemas: Mapping[Any, Mapping[str, Any]]) -> TypeRef:
    annotation = types.annotation(tp)
    is_none = tp is None or tp is type(None)
    info = mi.type_info(tp)
    if isinstance(info, mi.Metadata):
        info = info.type
    nullable = is_none or isinstance(info, mi.AnyType) or (
        isinstance(info, mi.UnionType) and any(isinstance(m, mi.NoneType) for m in info.types)
    )
    return TypeRef(annotation, schemas[_key(tp)], is_none=is_none, nullable=nullable)


def _key(tp: Any) -> Any:
    """A hashable identity for a type (``None`` and ``NoneType`` are the same)."""
    return type(None) if tp is None else tp


@contextlib.contextmanager
def _defining_modules() -> Iterator[None]:
    """Temporarily give rivet_dsl's re-exported value types their defining module back.

    ``rivet_dsl/__init__.py`` renames ``__module__`` to ``"rivet_dsl"`` for nicer reprs, but msgspec
    resolves a dataclass's string annotations in ``sys.modules[cls.__module__]``, where names such
    as ``Any`` do not exist. The defining module is recovered from a method's globals.
    """
    package = sys.modules.get("rivet_dsl")
    restored: list[tuple[type, str]] = []
    for value in vars(package).values() if package is not None else ():
        if not isinstance(value, type) or value.__module__ != "rivet_dsl":
            continue
        if not (dataclasses.is_dataclass(value) or hasattr(value, "__struct_fields__")):
            continue
        for member in vars(value).values():
            home = getattr(member, "__globals__", {}).get("__name__")
            if isinstance(home, str) and home != "rivet_dsl":
                restored.append((value, value.__module__))
                value.__module__ = home
                break
    try:
        yield
    finally:
        for value, name in restored:
            value.__module__ = name


def build_spec(registry: Registry, module: str, ref: str | None = None) -> ApiSpec:
    """Describe ``registry`` (defined in ``module``) as an :class:`ApiSpec`."""
    with _defining_modules():
        return _build_spec(registry, module, ref)


def _build_spec(registry: Registry, module: str, ref: str | None) -> ApiSpec:
    definitions = [registry.definitions[name] for name in sorted(registry.definitions)]
    if not definitions:
        raise CodegenError(f"registry {ref or module!r} has no actors")

    # Every type that crosses the wire, deduplicated, in a deterministic order.
    all_types: dict[Any, None] = {}
    for definition in definitions:
        for action in definition.actions.values():
            for param in action.params:
                all_types[_key(param.type)] = None
            all_types[_key(action.return_type)] = None
        for queue in definition.queues.values():
            all_types[_key(queue.body_type)] = None
            all_types[_key(queue.response_type)] = None
        for event in definition.events.values():
            all_types[_key(event.payload_type)] = None
    type_list = list(all_types)
    try:
        schema_list, components = msgspec.json.schema_components(type_list, ref_template=REF_TEMPLATE)
    except (TypeError, ValueError, NameError) as exc:
        raise CodegenError(f"cannot build JSON schemas: {exc}") from exc
    schemas = dict(zip(type_list, schema_list, strict=True))

    types = _Types()
    types.prepare(type_list)
    constants: list[tuple[str, str]] = []
    constant_names: set[str] = set()
    actors: list[ActorSpec] = []
    class_names: set[str] = set()
    actor_attrs: set[str] = set()
    for definition in definitions:
        class_name = definition.cls.__name__
        if class_name in class_names:
            raise CodegenError(f"two actor classes are named {class_name!r}; rename one")
        class_names.add(class_name)
        attr = member(definition.name, CLIENT_MEMBERS | actor_attrs)
        actor_attrs.add(attr)

        actions: list[ActionSpec] = []
        methods: set[str] = set()
        for action_name in sorted(definition.actions):
            action = definition.actions[action_name]
            method = member(action.name, HANDLE_MEMBERS | methods)
            methods.add(method)
            returns = _type_ref(types, action.return_type, schemas)
            # The method body evaluates the return annotation and uses a few names of its own.
            taken = set(METHOD_LOCALS | _names_in(returns.annotation))
            params: list[ParamSpec] = []
            for param in action.params:
                ref_ = _type_ref(types, param.type, schemas)
                name = identifier(param.name, taken)
                taken.add(name)
                default: str | None = None
                if param.has_default:
                    default = _literal(param.default, types.python_names)
                    if default is None:
                        const = f"_DEFAULT_{attr}_{method}_{name}".upper()
                        # "a_b" + "c" and "a" + "b_c" join the same way: number the later one.
                        base, number = const, 1
                        while const in constant_names:
                            number += 1
                            const = f"{base}_{number}"
                        constant_names.add(const)
                        constants.append((const, types._convert_source(param.default, ref_.annotation)))
                        default = const
                params.append(ParamSpec(name, ref_, default, param.name))
            actions.append(ActionSpec(action.name, method, tuple(params), returns, _doc(action.doc)))

        queues: list[QueueSpec] = []
        queue_attrs: set[str] = set()
        for queue_name in sorted(definition.queues):
            queue = definition.queues[queue_name]
            q_attr = member(queue.name, queue_attrs)
            queue_attrs.add(q_attr)
            queues.append(
                QueueSpec(
                    queue.name,
                    q_attr,
                    _type_ref(types, queue.body_type, schemas),
                    _type_ref(types, queue.response_type, schemas),
                    _doc(queue.doc),
                )
            )

        events: list[EventSpec] = []
        event_attrs: set[str] = set()
        for event_name in sorted(definition.events):
            event = definition.events[event_name]
            e_attr = member(event.name, event_attrs)
            event_attrs.add(e_attr)
            events.append(EventSpec(event.name, e_attr, _type_ref(types, event.payload_type, schemas), _doc(event.doc)))

        actors.append(
            ActorSpec(
                name=definition.name,
                attr=attr,
                class_name=class_name,
                doc=_class_doc(definition.cls),  # not the inherited Actor docstring
                actions=tuple(actions),
                queues=tuple(queues),
                events=tuple(events),
            )
        )

    types.declare_pending()
    generated = {f"{a.class_name}{suffix}" for a in actors for suffix in _CLASS_SUFFIXES}
    clash = sorted(generated & set(types.named))
    if clash:
        raise CodegenError(f"type names {clash} clash with classes the generated client defines; rename them")
    stem = module.rpartition(".")[2]
    return ApiSpec(
        module=module,
        ref=ref or f"{module}:registry",
        stem=stem,
        actors=tuple(actors),
        enums=tuple(types.enums[name] for name in sorted(types.enums)),
        structs=tuple(types.structs[name] for name in sorted(types.structs)),
        typed_dicts=tuple(types.typed_dicts[name] for name in sorted(types.typed_dicts)),
        imports=tuple(sorted(types.imports)),
        typing_names=tuple(sorted(types.typing_names)),
        constants=tuple(constants),
        components={name: components[name] for name in sorted(components)},
    )


_CLASS_SUFFIXES = ("Accessor", "Handle", "Connection", "Queues", "Events", "Actions")
