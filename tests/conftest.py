from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # The runtime (aiosqlite, asyncio timers) runs on asyncio.
    return "asyncio"
