"""Placeholder for the workflow context; the engine replaces this module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["RaceResult", "WorkflowContext"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RaceResult(Generic[T]):
    """The winner of ``ctx.race`` and its value."""

    winner: str
    value: T


class WorkflowContext:
    """The context passed to a ``@workflow`` run handler."""

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError("the workflow engine is not available yet")
