"""``MockClock``: a clock tests advance themselves."""

from __future__ import annotations

import heapq
import inspect
import itertools
from collections.abc import Callable

from ..runtime import Clock, Timer

__all__ = ["MockClock"]


class _MockTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class MockClock(Clock):
    """A clock that only moves when the test calls :meth:`advance`.

    Timers due during an advance fire in time order, with :meth:`now` set to each timer's
    time; when a timer callback starts work (returns an awaitable, as the runtime's timers
    do), ``advance`` waits for that work before firing the next timer. So after
    ``await clock.advance(3600)`` every schedule and idle sleep of that hour has run, and
    every workflow timer of that hour has fired; the workflow steps a timer wakes run after
    that: ``await env.settle(handle)`` (:class:`TestEnvironment`) waits for them.

    Args:
        start: the initial time in epoch seconds.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, _MockTimer]] = []
        self._counter = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        timer = _MockTimer(when, callback)
        heapq.heappush(self._heap, (when, next(self._counter), timer))
        return timer

    def pending(self) -> list[float]:
        """Times of the timers that have not fired (for assertions)."""
        return sorted(t.when for _, _, t in self._heap if not t.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing (and awaiting) every timer due meanwhile."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        await self.advance_to(self._now + seconds)

    async def advance_to(self, when: float) -> None:
        """Move time forward to ``when`` (epoch seconds)."""
        while self._heap and self._heap[0][0] <= when:
            due, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._now = max(self._now, due)
            result = timer.callback()
            if inspect.isawaitable(result):
                await result
        self._now = max(self._now, when)
