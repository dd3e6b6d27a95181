"""``rivet-dsl lint``: the command line, and :func:`lint_paths` behind it."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tokenize
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ._config import ConfigError, find_pyproject, is_excluded, load_config
from ._engine import PARSE_ERROR, fix_source, lint_file
from ._lock import LOCK_FILE, Tree, dump_lock, load_lock
from ._model import clear_module_cache
from ._types import LintConfig, Violation

__all__ = ["lint_paths", "main"]

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist"})


def _files(paths: Iterable[Path], config: LintConfig) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*.py")):
                rel = found.relative_to(path).parts[:-1]
                if any(part.startswith(".") or part in _SKIP_DIRS for part in rel):
                    continue
                if not is_excluded(found, config):
                    yield found
        elif not is_excluded(path, config):
            yield path


def _module_key(path: Path, root: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


_PARALLEL_FILES = 8  # below this, starting worker processes costs more than it saves


def _read_source(path: Path) -> tuple[str, str]:
    """The text of a module and its encoding, as Python reads it: a BOM, else a PEP 263
    ``# -*- coding: ... -*-`` line, else UTF-8."""
    with tokenize.open(path) as file:
        return file.read(), file.encoding


Job = tuple[str, str, frozenset[str], dict[str, Tree] | None, bool, tuple[str, ...]]


def _lint_one(job: Job) -> tuple[list[Violation], dict[str, Tree] | None]:
    """Lint one file (runs in a worker process for large trees): findings and workflow trees."""
    name, _key, disable, locked, fix, roots = job
    path = Path(name)
    try:
        source, encoding = _read_source(path)
    except (OSError, UnicodeDecodeError, SyntaxError) as error:  # SyntaxError: unknown coding
        return [Violation(name, 1, 1, *PARSE_ERROR, f"could not read: {error}")], None
    if fix:
        fixed = fix_source(source, name, disable=disable)
        if fixed != source:
            path.write_text(fixed, encoding=encoding)  # the declared encoding still holds
            source = fixed
    result = lint_file(source, name, disable=disable, locked=locked, roots=roots)
    return result.violations, (None if result.parse_error else result.trees)


def lint_paths(
    paths: Sequence[str | Path],
    *,
    config: LintConfig | None = None,
    lock: str | Path | None = None,
    update_lock: bool = False,
    fix: bool = False,
) -> list[Violation]:
    """Lint files and directories (walked recursively for ``*.py``); sorted findings.

    ``config`` defaults to ``[tool.rivet.lint]`` of the nearest ``pyproject.toml``. With a lock file
    (``lock``, default ``rivet.lock.json`` next to that ``pyproject.toml``) present, workflows are
    checked against it; ``update_lock`` rewrites it instead. ``fix`` applies safe fixes in place.
    """
    if not paths:
        raise ConfigError("no paths given")
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise ConfigError(f"{root}: no such file or directory")
    pyproject = find_pyproject(roots[0])
    if config is None:
        config = load_config(pyproject)
    lock_path = Path(lock) if lock is not None else (pyproject.parent if pyproject else Path.cwd()) / LOCK_FILE
    locked: dict[str, dict[str, Tree]] = {}
    if lock_path.is_file():
        try:
            locked = load_lock(lock_path)
        except ValueError as error:
            raise ConfigError(str(error)) from error
    lock_root = lock_path.parent
    violations: list[Violation] = []
    trees: dict[str, dict[str, Tree]] = {}
    jobs: list[Job] = []
    # where imported helpers are looked for: the lint roots and the project directory
    search = tuple(dict.fromkeys([*(str(r) for r in roots), *([str(pyproject.parent)] if pyproject else [])]))
    clear_module_cache()  # modules imported by workflows are parsed once per run (per worker)
    for path in _files(roots, config):
        key = _module_key(path, lock_root)
        jobs.append((str(path), key, config.disable, None if update_lock else locked.get(key), fix, search))
    workers = min(os.cpu_count() or 1, 8)
    if workers > 1 and len(jobs) >= _PARALLEL_FILES and not fix:
        context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = list(pool.map(_lint_one, jobs, chunksize=max(1, len(jobs) // (workers * 4))))
    else:
        results = [_lint_one(job) for job in jobs]
    for (_, key, *_rest), (found, module_trees) in zip(jobs, results, strict=True):
        violations.extend(found)
        if module_trees is not None:
            trees[key] = module_trees
    if update_lock:
        merged = {**locked, **trees}
        lock_path.write_text(dump_lock(merged), encoding="utf-8")
    return sorted(violations)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rivet-dsl lint",
        description="Check workflow code for replay safety (the code is parsed, never imported).",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories (default: .)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--fix", action="store_true", help="apply safe autofixes in place")
    parser.add_argument("--lock", default=None, help=f"lock file (default: {LOCK_FILE} next to pyproject.toml)")
    parser.add_argument("--update-lock", action="store_true", help="record every workflow's entry tree")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the linter; exit status 0 clean, 1 findings, 2 usage or parse errors."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else 2
    try:
        violations = lint_paths(args.paths, lock=args.lock, update_lock=args.update_lock, fix=args.fix)
    except ConfigError as error:
        print(f"rivet-dsl lint: error: {error}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps([v.to_json() for v in violations], indent=2))
    else:
        for violation in violations:
            print(violation.format())
        if violations:
            print(f"Found {len(violations)} problem{'s' if len(violations) != 1 else ''}.", file=sys.stderr)
    if any(v.code == PARSE_ERROR[0] for v in violations):
        return 2
    return 1 if violations else 0
