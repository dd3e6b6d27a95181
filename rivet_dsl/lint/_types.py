"""Value types of the analyzer: test cases as data, findings, configuration."""

from __future__ import annotations

import dataclasses
import textwrap

__all__ = ["Invalid", "LintConfig", "Valid", "Violation"]


@dataclasses.dataclass(frozen=True)
class Valid:
    """A snippet that the rule must accept (it doubles as a test case and documentation)."""

    code: str

    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")


@dataclasses.dataclass(frozen=True)
class Invalid:
    """A snippet that the rule must report.

    ``line``/``col`` (1-based) pin the position of the first report, ``expected_message`` must be a
    substring of its message, and ``expected_replacement`` is the whole module after ``--fix``.
    """

    code: str
    line: int | None = None
    col: int | None = None
    expected_message: str | None = None
    expected_replacement: str | None = None

    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")

    def replacement(self) -> str | None:
        if self.expected_replacement is None:
            return None
        return textwrap.dedent(self.expected_replacement).lstrip("\n")


@dataclasses.dataclass(frozen=True, order=True)
class Violation:
    """One finding. Ordered by path, line, column, code."""

    path: str
    line: int
    col: int
    code: str
    name: str
    message: str
    fixable: bool = False

    def format(self) -> str:
        return f"{self.path}:{self.line}:{self.col} {self.code} {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "fixable": self.fixable,
        }


@dataclasses.dataclass(frozen=True)
class LintConfig:
    """``[tool.rivet.lint]``: ``exclude`` globs and ``disable``d rule codes or names."""

    exclude: tuple[str, ...] = ()
    disable: frozenset[str] = frozenset()
    root: str | None = None
