"""A mypy plugin for actor classes (``plugins = ["rivet_dsl.mypy_plugin"]``).

``@queue`` and ``@event`` methods are declarations whose body is ``...``. mypy reports a body
like that as ``empty-body`` when the method declares a return type (a queue's response type),
so the plugin tells mypy they are declarations, exactly as it already does for ``@overload``
items and abstract methods.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import IS_ABSTRACT, Decorator, RefExpr
from mypy.plugin import ClassDefContext, Plugin

__all__ = ["plugin"]

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
            # Only the empty-body check reads this: the runtime never instantiates through mypy's eyes.
            node.func.abstract_status = IS_ABSTRACT


class _RivetPlugin(Plugin):
    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        if fullname in ("rivet_dsl.Actor", "rivet_dsl.actor._base.Actor") or self._is_actor(fullname):
            return _mark_declarations
        return None

    def _is_actor(self, fullname: str) -> bool:
        symbol = self.lookup_fully_qualified(fullname)
        info = getattr(symbol, "node", None)
        mro = getattr(info, "mro", None) or []
        return any(base.fullname == "rivet_dsl.actor._base.Actor" for base in mro)


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    return _RivetPlugin
