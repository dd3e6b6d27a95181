"""The durable workflow engine (history, context, replay)."""

from __future__ import annotations

from ._admin import WorkflowInFlightError as WorkflowInFlightError
from ._admin import recover as recover
from ._admin import replay_from_step as replay_from_step
from ._admin import workflow_history as workflow_history
from ._context import RaceResult as RaceResult
from ._context import WorkflowContext as WorkflowContext
from ._context import WorkflowQueue as WorkflowQueue
from ._engine import RollbackCheckpointError as RollbackCheckpointError
from ._engine import RollbackContext as RollbackContext
from ._engine import WorkflowEngine as WorkflowEngine

__all__ = [
    "RaceResult",
    "RollbackCheckpointError",
    "RollbackContext",
    "WorkflowContext",
    "WorkflowEngine",
    "WorkflowInFlightError",
    "WorkflowQueue",
    "recover",
    "replay_from_step",
    "workflow_history",
]
