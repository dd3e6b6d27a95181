"""Storage drivers and the interface they implement (see ``Storage``)."""

from __future__ import annotations

from ._base import ActorRecord as ActorRecord
from ._base import QueueRow as QueueRow
from ._base import ScheduleRow as ScheduleRow
from ._base import Storage as Storage
from ._base import WriteBatch as WriteBatch
from ._memory import MemoryStorage as MemoryStorage
from ._sqlite import SqliteStorage as SqliteStorage

__all__ = [
    "ActorRecord",
    "MemoryStorage",
    "QueueRow",
    "ScheduleRow",
    "SqliteStorage",
    "Storage",
    "WriteBatch",
]
