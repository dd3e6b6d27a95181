"""``Loop.continue_`` / ``Loop.break_``: what a workflow loop body returns."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

__all__ = ["Loop"]

T = TypeVar("T")


class Loop(Generic[T]):
    """The result of one loop iteration: continue (with new loop state) or break (with a value)."""

    __slots__ = ("is_break", "value")

    def __init__(self, is_break: bool, value: T) -> None:
        self.is_break = is_break
        self.value = value

    @staticmethod
    def continue_(state: Any = None) -> Loop[Any]:
        """Run the next iteration (with ``state`` as the new loop state for stateful loops)."""
        return Loop(False, state)

    @staticmethod
    def break_(value: T = None) -> Loop[T]:  # type: ignore[assignment]
        """Leave the loop; ``ctx.loop(...)`` returns ``value``."""
        return Loop(True, value)

    def __repr__(self) -> str:
        return f"Loop.{'break_' if self.is_break else 'continue_'}({self.value!r})"
