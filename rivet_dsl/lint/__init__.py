"""``rivet-dsl lint``: a libcst analyzer that checks workflow code for replay safety.

Workflow code (a ``@workflow`` method, its loop bodies and join/race branches) is re-executed on
every replay, so outside ``ctx.step(...)`` it must be deterministic and must not touch actor state.
The analyzer reads source text only; it never imports user code. See ``docs/lint.md``.
"""

from __future__ import annotations

from ._banned import BANNED, Banned
from ._cli import lint_paths, main
from ._config import ConfigError, load_config
from ._engine import fix_source, lint_source
from ._types import Invalid, LintConfig, Valid, Violation
from .rule import LintRule
from .rules import ALL_RULES

__all__ = [
    "ALL_RULES",
    "BANNED",
    "Banned",
    "ConfigError",
    "Invalid",
    "LintConfig",
    "LintRule",
    "Valid",
    "Violation",
    "fix_source",
    "lint_paths",
    "lint_source",
    "load_config",
    "main",
]
