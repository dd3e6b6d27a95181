"""Write generated files, or check them (``--check``): a unified diff and exit 1 on drift."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

__all__ = ["check_files", "write_files"]

FIX_COMMAND = "make codegen"


def write_files(files: Mapping[Path, str]) -> list[Path]:
    """Write every file whose content changed; returns the paths written."""
    written: list[Path] = []
    for path in sorted(files):
        content = files[path]
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def check_files(files: Mapping[Path, str]) -> str:
    """A unified diff between the files on disk and ``files`` (empty when up to date)."""
    chunks: list[str] = []
    for path in sorted(files):
        expected = files[path]
        actual = path.read_text(encoding="utf-8") if path.exists() else ""
        if actual == expected:
            continue
        chunks.append(
            "".join(
                difflib.unified_diff(
                    actual.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    fromfile=f"{path} (on disk)",
                    tofile=f"{path} (generated)",
                )
            )
        )
    if not chunks:
        return ""
    return "".join(chunks) + f"\ngenerated files are stale; run `{FIX_COMMAND}` and commit the result\n"
