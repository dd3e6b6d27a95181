"""An in-memory store: same contract as SQLite, nothing survives the process.

Used to measure the engine without I/O and for tests that need no durability.
"""

from __future__ import annotations

import asyncio
import bisect

from .._errors import StorageError
from ._base import ActorRecord, QueueRow, ScheduleRow, Storage, WriteBatch

__all__ = ["MemoryStorage"]


class MemoryStorage(Storage):
    """Dictionaries behind the storage interface, with the same group-commit writer."""

    def __init__(self) -> None:
        super().__init__()
        self._actors: dict[str, ActorRecord] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._queue: dict[str, dict[int, QueueRow]] = {}
        self._schedules: dict[str, dict[str, ScheduleRow]] = {}
        self._kv: dict[str, dict[bytes, bytes]] = {}

    async def _open(self) -> None:
        return None

    async def _close(self) -> None:
        return None

    async def _apply(self, batch: WriteBatch) -> None:
        # Validate before mutating anything so a failed batch applies nothing.
        for record in batch.created.values():
            if (record.name, record.key) in self._by_key and self._by_key[(record.name, record.key)] not in batch.destroyed:
                raise StorageError(f"actor {record.name}/{record.key} already exists")
        for actor_id in batch.destroyed:
            gone = self._actors.pop(actor_id, None)
            if gone is not None:
                self._by_key.pop((gone.name, gone.key), None)
            self._queue.pop(actor_id, None)
            self._schedules.pop(actor_id, None)
            self._kv.pop(actor_id, None)
        for record in batch.created.values():
            self._actors[record.actor_id] = record
            self._by_key[(record.name, record.key)] = record.actor_id
        for actor_id, state in batch.states.items():
            current = self._actors.get(actor_id)
            if current is not None:
                self._actors[actor_id] = _replace(current, state=state)
        for actor_id, at in batch.alarms.items():
            current = self._actors.get(actor_id)
            if current is not None:
                self._actors[actor_id] = _replace(current, alarm_at=at, alarm_changed=True)
        for row in batch.enqueued.values():
            self._queue.setdefault(row.actor_id, {})[row.seq] = row
        for actor_id, seq in batch.dequeued:
            self._queue.get(actor_id, {}).pop(seq, None)
        for (actor_id, schedule_id), schedule in batch.schedules.items():
            if schedule is None:
                self._schedules.get(actor_id, {}).pop(schedule_id, None)
            else:
                self._schedules.setdefault(actor_id, {})[schedule_id] = schedule
        for actor_id, start, end in batch.kv_ranges:
            space = self._kv.get(actor_id, {})
            for key in [k for k in space if start <= k < end]:
                del space[key]
        for actor_id, pending in batch.kv.items():
            space = self._kv.setdefault(actor_id, {})
            for key, value in pending.items():
                if value is None:
                    space.pop(key, None)
                else:
                    space[key] = value
        await asyncio.sleep(0)  # a commit is never synchronous with the submitter

    async def load_actor(self, actor_id: str) -> ActorRecord | None:
        return self._actors.get(actor_id)

    async def find_actor(self, name: str, key: str) -> ActorRecord | None:
        actor_id = self._by_key.get((name, key))
        return None if actor_id is None else self._actors[actor_id]

    async def list_actors(self, name: str | None = None, limit: int = 1000) -> list[ActorRecord]:
        records = [r for r in self._actors.values() if name is None or r.name == name]
        records.sort(key=lambda r: (r.created_at, r.actor_id))
        return [ActorRecord(r.actor_id, r.name, r.key, r.input, r.created_at, None, r.alarm_at) for r in records[:limit]]

    async def load_queue(self, actor_id: str) -> list[QueueRow]:
        rows = self._queue.get(actor_id, {})
        return [rows[seq] for seq in sorted(rows)]

    async def load_schedules(self, actor_id: str) -> list[ScheduleRow]:
        rows = list(self._schedules.get(actor_id, {}).values())
        rows.sort(key=lambda r: (r.fire_at, r.schedule_id))
        return rows

    async def load_kv(self, actor_id: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        space = self._kv.get(actor_id, {})
        keys = sorted(space)
        start = bisect.bisect_left(keys, prefix)
        out: list[tuple[bytes, bytes]] = []
        for key in keys[start:]:
            if not key.startswith(prefix):
                break
            out.append((key, space[key]))
        return out

    async def load_alarms(self) -> list[tuple[str, float]]:
        alarms = [(r.actor_id, r.alarm_at) for r in self._actors.values() if r.alarm_at is not None]
        return sorted(alarms, key=lambda pair: pair[1])


def _replace(
    record: ActorRecord,
    *,
    state: bytes | None = None,
    alarm_at: float | None = None,
    alarm_changed: bool = False,
) -> ActorRecord:
    return ActorRecord(
        record.actor_id,
        record.name,
        record.key,
        record.input,
        record.created_at,
        state if state is not None else record.state,
        alarm_at if alarm_changed else record.alarm_at,
    )
