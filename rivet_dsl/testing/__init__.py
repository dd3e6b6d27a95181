"""Testing tools: ``TestEnvironment`` and ``MockClock``."""

from __future__ import annotations

from ._clock import MockClock as MockClock
from ._environment import TestEnvironment as TestEnvironment

__all__ = ["MockClock", "TestEnvironment"]
