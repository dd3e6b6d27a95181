"""``[tool.rivet.lint]`` in the nearest ``pyproject.toml``."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from ._types import LintConfig

__all__ = ["ConfigError", "find_pyproject", "is_excluded", "load_config"]


class ConfigError(ValueError):
    """The configuration is malformed (a usage error: exit status 2)."""


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    here = start.resolve()
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(pyproject: Path | None) -> LintConfig:
    if pyproject is None:
        return LintConfig()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{pyproject}: {error}") from error
    table = data.get("tool", {}).get("rivet", {}).get("lint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.rivet.lint] must be a table")
    unknown = sorted(set(table) - {"exclude", "disable"})
    if unknown:
        raise ConfigError(f"{pyproject}: unknown [tool.rivet.lint] keys: {', '.join(unknown)}")
    exclude = table.get("exclude", [])
    disable = table.get("disable", [])
    for key, value in (("exclude", exclude), ("disable", disable)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{pyproject}: [tool.rivet.lint] {key} must be a list of strings")
    return LintConfig(tuple(exclude), frozenset(disable), str(pyproject.parent))


def is_excluded(path: Path, config: LintConfig) -> bool:
    """True when ``path`` (relative to the config's directory) matches an ``exclude`` glob."""
    if not config.exclude:
        return False
    resolved = path.resolve()
    rel = resolved.as_posix()
    if config.root is not None:
        try:
            rel = resolved.relative_to(Path(config.root).resolve()).as_posix()
        except ValueError:
            pass
    for pattern in config.exclude:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, f"{pattern}/*") or fnmatch.fnmatch(path.name, pattern):
            return True
    return False
