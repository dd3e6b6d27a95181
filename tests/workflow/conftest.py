from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["live", "restart"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run a test without restarts ("live") and with a crash + reload between waits ("restart")."""
    return str(request.param)
