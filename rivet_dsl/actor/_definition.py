"""Frozen definitions built from an actor class when it is created.

``build_definition`` inspects the class once, collects **every** problem and raises one
:class:`DefinitionError`; on success the runtime, the server and codegen read only these
frozen records, never the class again.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import msgspec

from .._errors import DefinitionError
from ._decorators import ACTION_ATTR, WORKFLOW_ATTR, ActionMarker, EventDeclaration, QueueDeclaration
from ._naming import snake_case

__all__ = [
    "HOOK_NAMES",
    "ActionDefinition",
    "ActorDefinition",
    "ActorOptions",
    "EventDefinition",
    "ParamDefinition",
    "QueueDefinition",
    "build_definition",
]

#: Lifecycle hooks a subclass may override (sync or async).
HOOK_NAMES = (
    "create_state",
    "on_create",
    "on_wake",
    "on_sleep",
    "on_destroy",
    "on_state_change",
    "on_before_connect",
    "create_conn_state",
    "on_connect",
    "on_disconnect",
    "run",
)

RunKind = Literal["none", "run", "workflow"]


@dataclass(frozen=True, slots=True)
class ActorOptions:
    """Class options given in the class statement (all durations in seconds)."""

    sleep_timeout: float = 30.0
    action_timeout: float = 60.0
    #: Limit of each connection hook (Rivet's onBeforeConnectTimeout / onConnectTimeout).
    conn_hook_timeout: float = 5.0
    max_queue_size: int = 1000
    max_queue_message_size: int = 65536
    icon: str | None = None
    #: Inspector display name (Rivet's ``options.name``); the wire name is ``ActorDefinition.name``.
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class ParamDefinition:
    """One action parameter as the wire sees it (positional, in order)."""

    name: str
    type: Any
    has_default: bool
    default: Any = None


@dataclass(frozen=True, slots=True)
class ActionDefinition:
    """An ``@action`` method."""

    name: str
    attr: str
    fn: Callable[..., Any]
    is_async: bool
    timeout: float | None
    params: tuple[ParamDefinition, ...]
    return_type: Any
    #: An ``array_like`` Struct over the parameters: ``msgspec.convert(args, args_type)``
    #: validates a positional argument list (defaults fill missing trailing arguments).
    args_type: type[msgspec.Struct]
    doc: str | None = None


@dataclass(frozen=True, slots=True)
class QueueDefinition:
    """A ``@queue`` declaration."""

    name: str
    attr: str
    body_type: Any
    response_type: Any
    max_size: int | None
    doc: str | None = None

    @property
    def completable(self) -> bool:
        """Whether senders can wait for a response (the response type is not ``None``)."""
        return self.response_type is not type(None)


@dataclass(frozen=True, slots=True)
class EventDefinition:
    """An ``@event`` declaration."""

    name: str
    attr: str
    payload_type: Any
    doc: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ActorDefinition:
    """Everything the runtime, the server and codegen need to know about an actor class."""

    cls: type[Any]
    name: str
    state_type: Any
    options: ActorOptions
    actions: Mapping[str, ActionDefinition]
    queues: Mapping[str, QueueDefinition]
    events: Mapping[str, EventDefinition]
    run_kind: RunKind
    #: Attribute name of the run handler (``"run"`` or the ``@workflow`` method).
    run_attr: str | None
    #: Hooks the class overrides; the runtime skips the others entirely.
    hooks: frozenset[str] = field(default_factory=frozenset)
    doc: str | None = None

    @property
    def stateless(self) -> bool:
        """``Actor[None]``: no durable state."""
        return self.state_type is None or self.state_type is type(None)


def _empty_declaration(self: Any, body: Any) -> None: ...


def _empty_declaration_doc(self: Any, body: Any) -> None:
    """Docstring only."""


_EMPTY_CODES = {_empty_declaration.__code__.co_code, _empty_declaration_doc.__code__.co_code}


def _is_declaration_only(fn: Callable[..., Any]) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_code in _EMPTY_CODES


def _hints(fn: Callable[..., Any], owner: type, problems: list[str], what: str) -> dict[str, Any] | None:
    try:
        return typing.get_type_hints(fn, localns=dict(vars(owner)))
    except Exception as exc:  # NameError for an unresolvable forward reference, and friends
        problems.append(f"{what}: cannot resolve type hints ({exc})")
        return None


def _check_encodable(tp: Any, problems: list[str], what: str) -> None:
    try:
        msgspec.inspect.type_info(tp)
    except Exception as exc:
        problems.append(f"{what}: type {tp!r} is not supported by msgspec ({exc})")


def _build_action(
    owner: type, attr: str, fn: Callable[..., Any], marker: ActionMarker, problems: list[str]
) -> ActionDefinition | None:
    what = f"action {attr!r}"
    count_before = len(problems)
    sig = inspect.signature(fn)
    hints = _hints(fn, owner, problems, what)
    if hints is None:
        return None
    params: list[ParamDefinition] = []
    for index, param in enumerate(sig.parameters.values()):
        if index == 0:
            continue  # self
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            problems.append(f"{what}: *args/**kwargs are not supported; declare each parameter")
            continue
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            if param.default is inspect.Parameter.empty:
                problems.append(f"{what}: keyword-only parameter {param.name!r} needs a default")
            continue
        if param.name not in hints:
            problems.append(f"{what}: parameter {param.name!r} has no type hint")
            continue
        has_default = param.default is not inspect.Parameter.empty
        params.append(ParamDefinition(param.name, hints[param.name], has_default, param.default if has_default else None))
        _check_encodable(hints[param.name], problems, f"{what} parameter {param.name!r}")
    if "return" not in hints:
        problems.append(f"{what}: missing return type hint")
    if marker.timeout is not None and marker.timeout <= 0:
        problems.append(f"{what}: timeout must be positive")
    if len(problems) > count_before:
        return None
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (p.name, p.type, p.default) if p.has_default else (p.name, p.type) for p in params
    ]
    args_type = msgspec.defstruct(
        f"{owner.__name__}.{attr}.Args", fields, array_like=True, forbid_unknown_fields=True
    )
    return ActionDefinition(
        name=marker.name or attr,
        attr=attr,
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        timeout=marker.timeout,
        params=tuple(params),
        return_type=hints["return"],
        args_type=args_type,
        doc=inspect.getdoc(fn),
    )


def _single_param_hint(
    owner: type, fn: Callable[..., Any], what: str, problems: list[str]
) -> tuple[Any, Any] | None:
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]
    if len(params) != 1 or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        problems.append(f"{what}: must take exactly one parameter besides self")
        return None
    if not _is_declaration_only(fn):
        problems.append(f"{what}: is declaration-only; its body must be `...`")
    hints = _hints(fn, owner, problems, what)
    if hints is None:
        return None
    if params[0].name not in hints:
        problems.append(f"{what}: parameter {params[0].name!r} has no type hint")
        return None
    if "return" not in hints:
        problems.append(f"{what}: missing return type hint (use -> None)")
        return None
    return hints[params[0].name], hints["return"]


def _state_type(cls: type, problems: list[str]) -> Any:
    from ._base import Actor  # the base module imports this one

    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if origin is Actor:
                (arg,) = typing.get_args(base)
                if isinstance(arg, typing.TypeVar):
                    continue
                return None if arg is None or arg is type(None) else arg
    problems.append("the class must subclass Actor[StateType] (or Actor[None] for a stateless actor)")
    return None


def reserved_names() -> frozenset[str]:
    """The public attributes of the ``Actor`` base (``state``, ``conns``, ``destroy``, ...)
    other than the lifecycle hooks (those are meant to be overridden): a declared member of
    that name would replace what the base provides (``self.conns`` would be an action)."""
    from ._base import Actor

    return frozenset(n for n in vars(Actor) if not n.startswith("_") and n not in HOOK_NAMES)


def _check_reserved(seen_attrs: dict[str, str], workflows: list[str], problems: list[str]) -> None:
    kinds = dict(seen_attrs) | dict.fromkeys(workflows, "workflow")
    for attr in sorted(kinds.keys() & reserved_names()):
        rename = " (keep the wire name with name=...)" if kinds[attr] in ("action", "queue", "event") else ""
        problems.append(
            f"{kinds[attr]} method {attr!r} would shadow Actor.{attr}, which the base class provides; "
            f"rename the method{rename}"
        )


def build_definition(cls: type, name: str | None, options: ActorOptions) -> ActorDefinition:
    """Inspect ``cls`` and return its definition, or raise one ``DefinitionError``."""
    from ._base import Actor

    problems: list[str] = []
    state_type = _state_type(cls, problems)
    if state_type is not None:
        _check_encodable(state_type, problems, "state")
        if "create_state" not in vars(cls) and not any(
            "create_state" in vars(k) for k in cls.__mro__[1:] if k is not Actor and issubclass(k, Actor)
        ):
            try:
                state_type()
            except Exception as exc:
                problems.append(
                    f"state type {getattr(state_type, '__name__', state_type)!r} cannot be built "
                    f"without arguments ({exc}); give every field a default or override create_state"
                )

    if options.sleep_timeout <= 0:
        problems.append("sleep_timeout must be positive")
    if options.action_timeout <= 0:
        problems.append("action_timeout must be positive")
    if not options.conn_hook_timeout > 0:
        problems.append("conn_hook_timeout must be positive")
    if options.max_queue_size < 1:
        problems.append("max_queue_size must be at least 1")
    if options.max_queue_message_size < 1:
        problems.append("max_queue_message_size must be at least 1")

    actions: dict[str, ActionDefinition] = {}
    queues: dict[str, QueueDefinition] = {}
    events: dict[str, EventDefinition] = {}
    workflows: list[str] = []
    seen_attrs: dict[str, str] = {}

    # Walk the MRO from the base up so subclasses override inherited members.
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass is Actor or not issubclass(klass, Actor):
            continue
        members.update(vars(klass))

    for attr, value in members.items():
        if isinstance(value, QueueDeclaration):
            what = f"queue {attr!r}"
            hinted = _single_param_hint(cls, value.fn, what, problems)
            if value.max_size is not None and value.max_size < 1:
                problems.append(f"{what}: max_size must be at least 1")
            if hinted is None:
                continue
            body_type, response_type = hinted
            _check_encodable(body_type, problems, f"{what} body")
            _check_encodable(response_type, problems, f"{what} response")
            if value.name in queues:
                problems.append(f"queue name {value.name!r} is declared twice")
            queues[value.name] = QueueDefinition(
                value.name, attr, body_type, response_type, value.max_size, inspect.getdoc(value.fn)
            )
            seen_attrs[attr] = "queue"
        elif isinstance(value, EventDeclaration):
            what = f"event {attr!r}"
            hinted = _single_param_hint(cls, value.fn, what, problems)
            if hinted is None:
                continue
            payload_type, returns = hinted
            if returns is not type(None):
                problems.append(f"{what}: must return None")
            _check_encodable(payload_type, problems, f"{what} payload")
            if value.name in events:
                problems.append(f"event name {value.name!r} is declared twice")
            events[value.name] = EventDefinition(value.name, attr, payload_type, inspect.getdoc(value.fn))
            seen_attrs[attr] = "event"
        elif callable(value):
            marker = getattr(value, ACTION_ATTR, None)
            is_workflow = getattr(value, WORKFLOW_ATTR, False)
            if marker is not None and is_workflow:
                problems.append(f"{attr!r} cannot be both an action and a workflow")
                continue
            if isinstance(marker, ActionMarker):
                if attr in HOOK_NAMES:
                    problems.append(f"lifecycle hook {attr!r} cannot be an action")
                    continue
                definition = _build_action(cls, attr, value, marker, problems)
                if definition is None:
                    continue
                if definition.name in actions:
                    problems.append(f"action name {definition.name!r} is declared twice")
                actions[definition.name] = definition
                seen_attrs[attr] = "action"
            elif is_workflow:
                if not inspect.iscoroutinefunction(value):
                    problems.append(f"workflow {attr!r} must be `async def {attr}(self, ctx)`")
                elif len(inspect.signature(value).parameters) != 2:
                    problems.append(f"workflow {attr!r} must take exactly (self, ctx)")
                workflows.append(attr)

    _check_reserved(seen_attrs, workflows, problems)

    overridden = frozenset(
        hook for hook in HOOK_NAMES if hook in members and members[hook] is not getattr(Actor, hook, None)
    )
    if len(workflows) > 1:
        problems.append(f"an actor has at most one run handler; found workflows {sorted(workflows)}")
    run_kind: RunKind = "none"
    run_attr: str | None = None
    if workflows:
        run_kind, run_attr = "workflow", workflows[0]
        if "run" in overridden and workflows[0] != "run":
            problems.append("an actor has at most one run handler; found both run() and a @workflow method")
    elif "run" in overridden:
        run_kind, run_attr = "run", "run"
        if not inspect.iscoroutinefunction(members["run"]):
            problems.append("run must be `async def run(self) -> None`")
    if run_kind == "workflow" and "run" in overridden and run_attr == "run":
        overridden = overridden - {"run"}

    for kind, names in (("action", actions), ("queue", queues), ("event", events)):
        for wire_name in names:
            if not wire_name or "/" in wire_name:
                problems.append(f"{kind} name {wire_name!r} is not a valid wire name")

    for hook in overridden:
        if hook in seen_attrs:
            problems.append(f"{hook!r} is a lifecycle hook and cannot be a {seen_attrs[hook]}")

    actor_name = name if name is not None else snake_case(cls.__name__)
    if not actor_name or "/" in actor_name or len(actor_name) > 64:
        problems.append(f"actor name {actor_name!r} must be 1-64 characters without '/'")

    if problems:
        raise DefinitionError(cls.__qualname__, problems)
    return ActorDefinition(
        cls=cls,
        name=actor_name,
        state_type=state_type,
        options=options,
        actions=MappingProxyType(actions),
        queues=MappingProxyType(queues),
        events=MappingProxyType(events),
        run_kind=run_kind,
        run_attr=run_attr,
        hooks=overridden,
        doc=inspect.getdoc(cls),
    )
