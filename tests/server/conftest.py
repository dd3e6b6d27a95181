from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._harness import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server process per test module (tests use distinct actor keys)."""
    db: Path = tmp_path_factory.mktemp("server") / "rivet.db"
    process = ServerProcess(db).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
