"""Time: the clock protocol every timer in the runtime goes through.

All timers (idle sleep, schedules, workflow sleeps, alarms) are armed through one
:class:`Clock`, so a test can swap in :class:`rivet_dsl.testing.MockClock` and advance time
itself. Times are epoch seconds.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "SystemClock", "Timer"]


class Timer(Protocol):
    """A pending timer; ``cancel()`` is idempotent."""

    def cancel(self) -> None: ...


class Clock(ABC):
    """Reads the time and arms timers."""

    @abstractmethod
    def now(self) -> float:
        """Current time in epoch seconds."""

    @abstractmethod
    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback()`` on the event loop at ``when`` (at once if it is in the past).

        A callback may return an awaitable; a mock clock awaits it when it fires the timer so
        tests can wait for the work a timer started.
        """


class SystemClock(Clock):
    """The real clock: ``time.time()`` and the event loop's timer heap."""

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        loop = asyncio.get_running_loop()
        return loop.call_at(loop.time() + max(0.0, when - time.time()), callback)
