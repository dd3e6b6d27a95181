"""The actor runtime: hosting, addressing, lifecycle, queues, schedules, connections."""

from __future__ import annotations

from ._clock import Clock as Clock
from ._clock import SystemClock as SystemClock
from ._clock import Timer as Timer
from ._connection import Conn as Conn
from ._keys import deserialize_key as deserialize_key
from ._keys import normalize_key as normalize_key
from ._keys import serialize_key as serialize_key
from ._queue import ActorQueue as ActorQueue
from ._queue import QueueMessage as QueueMessage
from ._queue import QueueSendResult as QueueSendResult
from ._runtime import ActorInfo as ActorInfo
from ._runtime import Runtime as Runtime
from ._schedule import Schedule as Schedule
from ._schedule import ScheduledCall as ScheduledCall
from ._tuning import tune_interpreter as tune_interpreter

__all__ = [
    "ActorInfo",
    "ActorQueue",
    "Clock",
    "Conn",
    "QueueMessage",
    "QueueSendResult",
    "Runtime",
    "Schedule",
    "ScheduledCall",
    "SystemClock",
    "Timer",
    "deserialize_key",
    "normalize_key",
    "serialize_key",
    "tune_interpreter",
]
