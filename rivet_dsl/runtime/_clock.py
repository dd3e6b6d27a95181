"""Time: the clock protocol every timer in the runtime goes through.

All timers (idle sleep, schedules, workflow sleeps, alarms) are armed through one
:class:`Clock`, so a test can swap in :class:`rivet_dsl.testing.MockClock` and advance time
itself. Times are epoch seconds.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

__all__ = ["Clock", "SystemClock", "Timer", "within"]

T = TypeVar("T")


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

    #: ``time.time`` itself: the runtime reads the clock several times per workflow step, and a
    #: method wrapping it would add a Python call to each read.
    now = staticmethod(time.time)

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        loop = asyncio.get_running_loop()
        return loop.call_at(loop.time() + max(0.0, when - time.time()), callback)


async def within(clock: Clock, awaitable: Awaitable[T], seconds: float, timed_out: Callable[[], Exception]) -> T:
    """Await ``awaitable`` for at most ``seconds`` on ``clock``; past that it is cancelled and
    ``timed_out()`` raised. ``asyncio.timeout`` on the runtime's clock, so tests can move it.

    Only this limit's own cancellation becomes the timeout: one from outside (the caller went
    away) stays a cancellation. An awaitable that swallows the cancellation has timed out all
    the same (and leaves no stray cancel request on the task).
    """
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    cancelling = task.cancelling()
    timer = clock.call_at(clock.now() + seconds, expire)
    try:
        value = await awaitable
    except asyncio.CancelledError:
        if expired and task.uncancel() <= cancelling:
            raise timed_out() from None
        raise
    finally:
        timer.cancel()
    if expired:
        task.uncancel()
        raise timed_out()
    return value
