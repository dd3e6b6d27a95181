"""The quickstart counter: an action that changes durable state and broadcasts an event."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, action, event, setup


class CounterState(msgspec.Struct):
    count: int = 0


class Counter(Actor[CounterState], icon="🔢"):
    """A durable counter. Every change is committed before `increment` returns."""

    @event
    def count(self, value: int) -> None: ...

    @action
    def increment(self, amount: int = 1) -> int:
        """Add `amount` and tell every subscribed connection."""
        self.state.count += amount
        self.count(self.state.count)
        return self.state.count

    @action
    def get_count(self) -> int:
        return self.state.count


registry = setup(Counter)
