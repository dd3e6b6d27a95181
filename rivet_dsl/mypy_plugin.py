"""A mypy plugin for actor classes (``plugins = ["rivet_dsl.mypy_plugin"]``).

``@queue`` and ``@event`` methods are declarations whose body is ``...``. mypy reports a body
like that as ``empty-body`` when the method declares a return type (a queue's response type),
so the plugin tells mypy not to check their bodies, as it does for definitions under
``if TYPE_CHECKING:``. Nothing else about them changes: an actor with queues is not abstract.

``Loop.continue_(state)`` in a stateful loop body, ``async def body(ctx: WorkflowContext, state:
S) -> Loop[T]``, is checked against ``S``: the value becomes the next iteration's state.

``ctx.step(name, fn)`` with no arguments for ``fn`` is checked against the signature with no
``*args`` (``Ts`` = ``()``): with the variadic one, mypy adds a spurious "Too few arguments"
to any other error in the call, such as one inside a ``lambda``.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.errorcodes import ARG_TYPE
from mypy.expandtype import expand_type
from mypy.messages import format_type
from mypy.nodes import ARG_POS, ARG_STAR, Decorator, FuncDef, RefExpr, TypeAlias, TypeInfo
from mypy.plugin import ClassDefContext, FunctionContext, MethodContext, MethodSigContext, Plugin
from mypy.subtypes import is_subtype
from mypy.types import (
    AnyType,
    CallableType,
    FunctionLike,
    Instance,
    TupleType,
    Type,
    TypeOfAny,
    TypeVarTupleType,
    UnpackType,
    get_proper_type,
)

__all__ = ["plugin"]

_ACTOR = "rivet_dsl.actor._base.Actor"
_CONTEXT = "rivet_dsl.workflows._context.WorkflowContext"
_CONTINUE = "rivet_dsl._loop.Loop.continue_"
_STEP = "rivet_dsl.workflows._context.WorkflowContext.step"
_DECLARATIONS = {"rivet_dsl.queue", "rivet_dsl.event", "rivet_dsl.actor._decorators.queue", "rivet_dsl.actor._decorators.event"}


def _decorator_name(expr: object) -> str | None:
    if isinstance(expr, RefExpr):
        return expr.fullname
    callee = getattr(expr, "callee", None)
    if isinstance(callee, RefExpr):
        return callee.fullname
    return None


def _mark_declarations(ctx: ClassDefContext) -> None:
    for symbol in ctx.cls.info.names.values():
        node = symbol.node
        if isinstance(node, Decorator) and any(_decorator_name(d) in _DECLARATIONS for d in node.original_decorators):
            # The flag mypy sets on definitions under `if TYPE_CHECKING:`; the empty-body check
            # is the only one that reads it (unlike the abstract status, which would make the
            # actor class abstract: no `A()`, no `type[A]` argument).
            node.func.is_mypy_only = True


def _loop_state_type(ctx: FunctionContext | MethodContext) -> Type | None:
    """The state type of the stateful loop body the call is in: the parameter that follows
    the ``WorkflowContext`` one, when it is the body's last parameter; else ``None``."""
    scope = getattr(ctx.api, "scope", None)  # the TypeChecker's: the function being checked
    func = scope.current_function() if scope is not None else None
    # Only a `def` has declared parameter types (a lambda's are inferred from its use).
    if not isinstance(func, FuncDef) or not isinstance(func.type, CallableType):
        return None
    sig = func.type
    for i, arg in enumerate(sig.arg_types):
        arg = get_proper_type(arg)
        if isinstance(arg, Instance) and arg.type.fullname == _CONTEXT:
            rest = sig.arg_kinds[i + 1 :]
            if len(rest) == 1 and rest[0] == ARG_POS:
                return sig.arg_types[i + 1]
            return None
    return None


def _check_continue(ctx: FunctionContext | MethodContext) -> Type:
    """``Loop.continue_(value)`` in a stateful loop body: ``value`` must be a state. (Without
    a value it is left alone: a helper shaped like a body may serve a loop without state.)"""
    if ctx.arg_types and len(ctx.arg_types[0]) == 1:
        state = _loop_state_type(ctx)
        given = ctx.arg_types[0][0]
        if state is not None and not is_subtype(given, state):
            ctx.api.fail(
                f'Argument 1 to "continue_" of "Loop" has incompatible type {format_type(given, ctx.api.options)}; '
                f"expected the loop state's type {format_type(state, ctx.api.options)}",
                ctx.context,
                code=ARG_TYPE,
            )
    return ctx.default_return_type


def _step_without_args(ctx: MethodSigContext) -> FunctionLike:
    """``ctx.step(name, fn)``: the signature with ``*args: *Ts`` given no arguments, ``Ts = ()``."""
    sig = ctx.default_signature
    star = next((i for i, kind in enumerate(sig.arg_kinds) if kind == ARG_STAR), None)
    if star is None or ctx.args[star]:
        return sig
    unpacked = get_proper_type(sig.arg_types[star])
    variadic = get_proper_type(unpacked.type) if isinstance(unpacked, UnpackType) else None
    if not isinstance(variadic, TypeVarTupleType):
        return sig
    empty = TupleType([], ctx.api.named_generic_type("builtins.tuple", [AnyType(TypeOfAny.special_form)]))
    keep = [i for i in range(len(sig.arg_kinds)) if i != star]
    narrowed = sig.copy_modified(
        arg_types=[sig.arg_types[i] for i in keep],
        arg_kinds=[sig.arg_kinds[i] for i in keep],
        arg_names=[sig.arg_names[i] for i in keep],
        variables=[v for v in sig.variables if v.id != variadic.id],
    )
    return expand_type(narrowed, {variadic.id: empty})


class _RivetPlugin(Plugin):
    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        # Only for actor bases: mypy runs the first hook a plugin returns, so a hook for every
        # class would hide the base class hooks of the plugins listed after this one.
        return _mark_declarations if self._is_actor(fullname) else None

    def _is_actor(self, fullname: str) -> bool:
        """Whether the base ``fullname`` is ``Actor``, a subclass, or an alias of either."""
        symbol = self.lookup_fully_qualified(fullname)
        node = symbol.node if symbol is not None else None
        if isinstance(node, TypeAlias):
            target = get_proper_type(node.target)
            node = target.type if isinstance(target, Instance) else None
        return isinstance(node, TypeInfo) and any(base.fullname == _ACTOR for base in node.mro)

    def get_method_signature_hook(self, fullname: str) -> Callable[[MethodSigContext], FunctionLike] | None:
        return _step_without_args if fullname == _STEP else None

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        return _check_continue if fullname == _CONTINUE else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _check_continue if fullname == _CONTINUE else None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    return _RivetPlugin
