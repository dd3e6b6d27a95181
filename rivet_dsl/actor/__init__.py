"""The authoring DSL: ``Actor[StateT]`` and the method decorators."""

from __future__ import annotations

from ._base import Actor as Actor
from ._decorators import EventDeclaration as EventDeclaration
from ._decorators import EventRef as EventRef
from ._decorators import QueueDeclaration as QueueDeclaration
from ._decorators import QueueRef as QueueRef
from ._decorators import action as action
from ._decorators import event as event
from ._decorators import queue as queue
from ._decorators import workflow as workflow
from ._definition import ActionDefinition as ActionDefinition
from ._definition import ActorDefinition as ActorDefinition
from ._definition import ActorOptions as ActorOptions
from ._definition import EventDefinition as EventDefinition
from ._definition import ParamDefinition as ParamDefinition
from ._definition import QueueDefinition as QueueDefinition

__all__ = [
    "ActionDefinition",
    "Actor",
    "ActorDefinition",
    "ActorOptions",
    "EventDeclaration",
    "EventDefinition",
    "EventRef",
    "ParamDefinition",
    "QueueDeclaration",
    "QueueDefinition",
    "QueueRef",
    "action",
    "event",
    "queue",
    "workflow",
]
