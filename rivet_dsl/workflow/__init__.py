"""The durable workflow engine (history, context, replay)."""

from __future__ import annotations

from ._context import RaceResult as RaceResult
from ._context import WorkflowContext as WorkflowContext

__all__ = ["RaceResult", "WorkflowContext"]
