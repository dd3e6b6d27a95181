"""rivet_dsl: durable actors and workflows for Python, written as plain classes.

Authoring surface (everything an actor module imports)::

    from rivet_dsl import Actor, Loop, WorkflowContext, action, event, queue, setup, workflow
"""

from __future__ import annotations

import dataclasses as _dataclasses

import msgspec as _msgspec

from ._errors import ActionNotFoundError as ActionNotFoundError
from ._errors import ActionTimedOutError as ActionTimedOutError
from ._errors import ActorAbortedError as ActorAbortedError
from ._errors import ActorAlreadyExistsError as ActorAlreadyExistsError
from ._errors import ActorNotFoundError as ActorNotFoundError
from ._errors import ConnHookTimedOutError as ConnHookTimedOutError
from ._errors import CriticalError as CriticalError
from ._errors import DefinitionError as DefinitionError
from ._errors import EntryInProgressError as EntryInProgressError
from ._errors import HistoryDivergedError as HistoryDivergedError
from ._errors import InternalError as InternalError
from ._errors import InvalidArgumentsError as InvalidArgumentsError
from ._errors import JoinError as JoinError
from ._errors import QueueAlreadyCompletedError as QueueAlreadyCompletedError
from ._errors import QueueError as QueueError
from ._errors import QueueFullError as QueueFullError
from ._errors import QueueMessageTooLargeError as QueueMessageTooLargeError
from ._errors import QueuePreviousMessageNotCompletedError as QueuePreviousMessageNotCompletedError
from ._errors import QueueUnknownError as QueueUnknownError
from ._errors import RaceError as RaceError
from ._errors import RivetError as RivetError
from ._errors import ScheduleError as ScheduleError
from ._errors import StepExhaustedError as StepExhaustedError
from ._errors import StepOnlyError as StepOnlyError
from ._errors import StepTimeoutError as StepTimeoutError
from ._errors import StorageError as StorageError
from ._errors import UserError as UserError
from ._errors import WorkflowError as WorkflowError
from ._loop import Loop as Loop
from ._registry import Registry as Registry
from ._registry import setup as setup
from ._version import __version__ as __version__
from .actor import Actor as Actor
from .actor import EventRef as EventRef
from .actor import QueueRef as QueueRef
from .actor import action as action
from .actor import event as event
from .actor import queue as queue
from .runtime import Conn as Conn
from .runtime import QueueMessage as QueueMessage
from .runtime import ScheduledCall as ScheduledCall
from .actor import workflow as workflow
from .workflows import RaceResult as RaceResult
from .workflows import RollbackContext as RollbackContext
from .workflows import WorkflowContext as WorkflowContext

__all__ = [
    "ActionNotFoundError",
    "ActionTimedOutError",
    "Actor",
    "ActorAbortedError",
    "ActorAlreadyExistsError",
    "ActorNotFoundError",
    "Conn",
    "ConnHookTimedOutError",
    "CriticalError",
    "DefinitionError",
    "EntryInProgressError",
    "EventRef",
    "HistoryDivergedError",
    "InternalError",
    "InvalidArgumentsError",
    "JoinError",
    "Loop",
    "QueueAlreadyCompletedError",
    "QueueError",
    "QueueFullError",
    "QueueMessage",
    "QueueMessageTooLargeError",
    "QueuePreviousMessageNotCompletedError",
    "QueueRef",
    "QueueUnknownError",
    "RaceError",
    "RaceResult",
    "Registry",
    "RivetError",
    "RollbackContext",
    "ScheduleError",
    "ScheduledCall",
    "StepExhaustedError",
    "StepOnlyError",
    "StepTimeoutError",
    "StorageError",
    "UserError",
    "WorkflowContext",
    "WorkflowError",
    "__version__",
    "action",
    "event",
    "queue",
    "setup",
    "workflow",
]

# Tracebacks and reprs say ``rivet_dsl.UserError``, not ``rivet_dsl._errors.UserError``.
for _name in __all__:
    _obj = globals()[_name]
    # Dataclasses and Structs keep their defining module: msgspec resolves their annotations there.
    if _dataclasses.is_dataclass(_obj) or (isinstance(_obj, type) and issubclass(_obj, _msgspec.Struct)):
        continue
    if isinstance(_obj, type) or callable(_obj):
        try:
            _obj.__module__ = "rivet_dsl"
        except (AttributeError, TypeError):  # builtins and C types keep theirs
            pass
del _name, _obj, _dataclasses, _msgspec
