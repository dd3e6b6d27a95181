"""Durable schedules: action calls persisted to fire at a time, across sleep and restarts."""

from __future__ import annotations

import builtins
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVarTuple, overload

from .._errors import ScheduleError
from ..actor._decorators import ACTION_ATTR
from ..storage import ScheduleRow
from ._codec import decode_builtins, encode, to_builtins

if TYPE_CHECKING:
    from ._instance import LiveActor

__all__ = ["Schedule", "ScheduledCall"]

Ts = TypeVarTuple("Ts")

#: The times a schedule may fire at (epoch seconds): those a ``datetime`` can hold, years 1 to
#: 9999. Anything else (NaN, an infinity, 1e300) is refused before anything is written.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def _invalid_time(what: str, value: object) -> ScheduleError:
    expected = "a finite delay in seconds, landing" if what == "seconds" else "a finite time in epoch seconds"
    return ScheduleError(
        f"Invalid schedule time: `{what}` must be {expected} between the years 1 and 9999"
        f" (got {value!r}).",
        code="invalid_time",
        metadata={"argument": what, "value": repr(value)},
    )


@dataclass(frozen=True, slots=True)
class ScheduledCall:
    """A pending scheduled action call."""

    id: str
    action: str
    args: list[Any]
    fire_at: float


class Schedule:
    """``self.schedule`` in actor code."""

    __slots__ = ("_actor", "_rows", "firing")

    def __init__(self, actor: LiveActor, rows: list[ScheduleRow]) -> None:
        self._actor = actor
        self._rows: dict[str, ScheduleRow] = {row.schedule_id: row for row in rows}
        #: The actor is firing due schedules (``LiveActor.fire_due``); set and cleared there.
        self.firing = False

    def _action_name(self, action: Callable[..., Any] | str) -> str:
        definition = self._actor.definition
        if isinstance(action, str):
            name = action
        else:
            fn = getattr(action, "__func__", action)
            marker = getattr(fn, ACTION_ATTR, None)
            if marker is None:
                raise ScheduleError(f"{action!r} is not an @action of this actor")
            name = next((a.name for a in definition.actions.values() if a.fn is fn), "")
        if name not in definition.actions:
            raise ScheduleError(f"actor {definition.name!r} has no action {name!r}")
        return name

    # An action given as a method: mypy checks `*args` against its parameters (`*args: *Ts`).
    # One given by name is checked at run time only.
    @overload
    async def after(self, seconds: float, action: Callable[[*Ts], Any], *args: *Ts) -> str: ...

    @overload
    async def after(self, seconds: float, action: str, *args: Any) -> str: ...

    async def after(self, seconds: float, action: Callable[[*Ts], Any] | str, *args: *Ts) -> str:
        """Call ``action(*args)`` in ``seconds``; returns the schedule id."""
        try:
            delay = float(seconds)
        except (TypeError, ValueError):
            raise _invalid_time("seconds", seconds) from None
        if not math.isfinite(delay):
            raise _invalid_time("seconds", seconds)
        fire_at = self._actor.runtime.clock.now() + delay
        if not EARLIEST <= fire_at <= LATEST:
            raise _invalid_time("seconds", seconds)
        return await self.at(fire_at, action, *args)

    @overload
    async def at(self, when: float | datetime, action: Callable[[*Ts], Any], *args: *Ts) -> str: ...

    @overload
    async def at(self, when: float | datetime, action: str, *args: Any) -> str: ...

    async def at(self, when: float | datetime, action: Callable[[*Ts], Any] | str, *args: *Ts) -> str:
        """Call ``action(*args)`` at ``when`` (epoch seconds or an aware ``datetime``)."""
        try:
            fire_at = when.timestamp() if isinstance(when, datetime) else float(when)
        except (TypeError, ValueError, OverflowError):
            raise _invalid_time("when", when) from None
        # (NaN fails both comparisons.)
        if not EARLIEST <= fire_at <= LATEST:
            raise _invalid_time("when", when)
        name = self._action_name(action)
        actor = self._actor
        actor.check_alive()  # a call still running on a destroyed actor schedules nothing
        row = ScheduleRow(
            actor.actor_id,
            secrets.token_hex(8),
            fire_at,
            name,
            encode(to_builtins(list(args))),
            actor.runtime.clock.now(),
        )
        self._rows[row.schedule_id] = row
        actor.runtime.storage.batch.put_schedule(row)
        actor.alarms_changed()
        await actor.commit()
        return row.schedule_id

    async def cancel(self, schedule_id: str) -> bool:
        """Cancel a pending schedule; ``False`` if there is none with that id."""
        row = self._rows.pop(schedule_id, None)
        if row is None:
            return False
        actor = self._actor
        actor.runtime.storage.batch.delete_schedule(actor.actor_id, schedule_id)
        actor.alarms_changed()
        await actor.commit()
        return True

    async def list(self) -> builtins.list[ScheduledCall]:
        """Pending schedules, earliest first."""
        return [
            ScheduledCall(row.schedule_id, row.action, decode_builtins(row.args), row.fire_at)
            for row in sorted(self._rows.values(), key=lambda r: (r.fire_at, r.schedule_id))
        ]

    def next_fire_at(self) -> float | None:
        """When the earliest schedule is due."""
        return min((row.fire_at for row in self._rows.values()), default=None)

    def due(self, now: float) -> builtins.list[str]:
        """Ids of the schedules due at ``now``, in firing order. They stay pending (listed,
        cancellable) until :meth:`take` starts one."""
        due = sorted((r for r in self._rows.values() if r.fire_at <= now), key=lambda r: (r.fire_at, r.schedule_id))
        return [row.schedule_id for row in due]

    def take(self, schedule_id: str) -> ScheduleRow | None:
        """Remove a schedule that starts firing (its deletion is the caller's); ``None`` if it
        was cancelled meanwhile."""
        return self._rows.pop(schedule_id, None)

    def __len__(self) -> int:
        return builtins.len(self._rows)
