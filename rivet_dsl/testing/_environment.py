"""``TestEnvironment``: a registry running in-process on a real SQLite file."""

from __future__ import annotations

import os
import shutil
import tempfile
from types import TracebackType

from .._registry import Registry
from ..client import Client
from ..runtime import Clock, Runtime
from ..runtime._transport import InProcessTransport
from ..storage import SqliteStorage

__all__ = ["TestEnvironment"]


class TestEnvironment:
    """Run a registry in-process: ``async with TestEnvironment(registry) as env: ...``.

    Args:
        registry: the actors to host.
        db: the SQLite file; a temporary one (deleted on exit) unless given, so two
            environments (two versions of the code, say) can share one store.
        clock: the time source; the real clock unless a :class:`MockClock` is given.
        fsync: use ``synchronous=FULL``.

    ``env.client`` is a :class:`rivet_dsl.client.Client` with the same API as the HTTP client.
    ``await env.restart()`` simulates a crash and reloads everything from storage.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self, registry: Registry, *, db: str | os.PathLike[str] | None = None, clock: Clock | None = None, fsync: bool = False
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.fsync = fsync
        self._tempdir: str | None = None
        self.db = os.fspath(db) if db is not None else None
        self._runtime: Runtime | None = None
        self._client: Client | None = None

    @property
    def runtime(self) -> Runtime:
        """The runtime currently hosting the actors (a new one after each restart)."""
        if self._runtime is None:
            raise RuntimeError("the environment is not running; use `async with TestEnvironment(...)`")
        return self._runtime

    @property
    def client(self) -> Client:
        """A client bound to the current runtime (rebound after each restart)."""
        if self._client is None:
            raise RuntimeError("the environment is not running; use `async with TestEnvironment(...)`")
        return self._client

    async def __aenter__(self) -> TestEnvironment:
        if self.db is None:
            self._tempdir = tempfile.mkdtemp(prefix="rivet-test-")
            self.db = os.path.join(self._tempdir, "rivet.db")
        await self._start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._runtime is not None:
                await self._runtime.stop()
        finally:
            self._runtime = None
            self._client = None
            if self._tempdir is not None:
                shutil.rmtree(self._tempdir, ignore_errors=True)
                self._tempdir = None

    async def _start(self) -> None:
        assert self.db is not None
        runtime = Runtime(self.registry, storage=SqliteStorage(self.db, fsync=self.fsync), clock=self.clock)
        await runtime.start()
        self._runtime = runtime
        self._client = Client(InProcessTransport(runtime))

    async def restart(self) -> None:
        """Simulate a crash: drop every live actor without hooks or a final save, then reload
        from storage (workflows resume, timers and schedules re-arm). Handles made from the
        old ``env.client`` keep working: the same client now talks to the new runtime."""
        old = self.runtime
        await old.crash()
        assert self.db is not None
        runtime = Runtime(self.registry, storage=SqliteStorage(self.db, fsync=self.fsync), clock=self.clock)
        await runtime.start()
        self._runtime = runtime
        transport = self.client.transport
        assert isinstance(transport, InProcessTransport)
        transport.runtime = runtime
