"""``Loop.continue_`` / ``Loop.break_``: what a workflow loop body returns."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

__all__ = ["Loop"]

T = TypeVar("T")
#: Covariant: a ``Loop[None]`` (``Loop.break_()``) is a ``Loop[int | None]`` but not a ``Loop[int]``.
T_co = TypeVar("T_co", covariant=True)


class Loop(Generic[T_co]):
    """The result of one loop iteration: continue (with new loop state) or break (with a value)."""

    __slots__ = ("is_break", "value")

    def __init__(self, is_break: bool, value: T_co) -> None:
        self.is_break = is_break
        self.value = value

    @staticmethod
    def continue_(state: Any = None) -> Loop[Any]:
        """Run the next iteration (with ``state`` as the new loop state for stateful loops)."""
        return Loop(False, state)

    @overload
    @staticmethod
    def break_() -> Loop[None]: ...

    @overload
    @staticmethod
    def break_(value: T) -> Loop[T]: ...

    @staticmethod
    def break_(value: Any = None) -> Loop[Any]:
        """Leave the loop; ``ctx.loop(...)`` returns ``value`` (``None`` without one)."""
        return Loop(True, value)

    def __repr__(self) -> str:
        return f"Loop.{'break_' if self.is_break else 'continue_'}({self.value!r})"
