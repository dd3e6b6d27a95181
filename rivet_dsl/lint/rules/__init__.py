"""The built-in rules, one module and one class each. ``ALL_RULES`` is the explicit list."""

from __future__ import annotations

from ..rule import LintRule
from .await_context_call import AwaitContextCall
from .literal_entry_name import LiteralEntryName
from .no_environment import NoEnvironment
from .no_io import NoIO
from .no_randomness import NoRandomness
from .no_set_iteration import NoSetIteration
from .no_threads import NoThreads
from .no_wall_clock import NoWallClock
from .step_only_actor_access import StepOnlyActorAccess
from .unique_entry_name import UniqueEntryName
from .use_context_sleep import UseContextSleep
from .use_own_context import UseOwnContext

__all__ = [
    "ALL_RULES",
    "AwaitContextCall",
    "LiteralEntryName",
    "NoEnvironment",
    "NoIO",
    "NoRandomness",
    "NoSetIteration",
    "NoThreads",
    "NoWallClock",
    "StepOnlyActorAccess",
    "UniqueEntryName",
    "UseContextSleep",
    "UseOwnContext",
]

ALL_RULES: tuple[type[LintRule], ...] = (
    LiteralEntryName,
    UniqueEntryName,
    NoWallClock,
    NoRandomness,
    NoEnvironment,
    NoIO,
    NoThreads,
    UseContextSleep,
    NoSetIteration,
    StepOnlyActorAccess,
    AwaitContextCall,
    UseOwnContext,
)
