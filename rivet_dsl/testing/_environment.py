"""``TestEnvironment``: a registry running in-process on a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from types import TracebackType
from typing import Generic, TypeVar, cast, overload

from .._registry import Registry
from ..client import ActorHandle, Client
from ..runtime import Clock, Runtime
from ..runtime._transport import InProcessTransport
from ..storage import SqliteStorage

__all__ = ["TestEnvironment"]

#: The environment's clock type: ``env.clock`` is the ``MockClock`` given (``None`` without one),
#: so ``await env.clock.advance(60)`` type-checks as written.
C = TypeVar("C", bound=Clock | None)


class TestEnvironment(Generic[C]):
    """Run a registry in-process: ``async with TestEnvironment(registry) as env: ...``.

    Args:
        registry: the actors to host.
        db: the SQLite file; a temporary one (deleted on exit) unless given, so two
            environments (two versions of the code, say) can share one store.
        clock: the time source; the real clock unless a :class:`MockClock` is given.
        fsync: use ``synchronous=FULL``.

    ``env.client`` is a :class:`rivet_dsl.client.Client` with the same API as the HTTP client.
    ``await env.restart()`` simulates a crash and reloads everything from storage.
    ``await env.settle(handle)`` returns once the actor's workflow waits again (or has ended).
    """

    __test__ = False  # not a pytest test class, despite the name

    @overload
    def __init__(
        self: TestEnvironment[None], registry: Registry, *, db: str | os.PathLike[str] | None = None, fsync: bool = False
    ) -> None: ...

    @overload
    def __init__(
        self, registry: Registry, *, db: str | os.PathLike[str] | None = None, clock: C, fsync: bool = False
    ) -> None: ...

    def __init__(
        self, registry: Registry, *, db: str | os.PathLike[str] | None = None, clock: C | None = None, fsync: bool = False
    ) -> None:
        self.registry = registry
        # Without a clock, C is None (the first overload), so this is C either way.
        self.clock: C = cast(C, clock)
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

    async def __aenter__(self) -> TestEnvironment[C]:
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

    async def settle(self, actor: ActorHandle | str) -> None:
        """Return once the actor's workflow waits (for a message, a timer, a retry backoff) or
        has ended, with everything it recorded committed.

        A send returns once the message is durable, and ``clock.advance`` once the timers due
        have fired: the workflow steps they wake run after that. Settle before asserting on
        what those steps do. Wakes the actor if it sleeps (its workflow resumes by replay).
        """
        actor_id = actor if isinstance(actor, str) else await actor.resolve()
        live = await self.runtime.acquire(actor_id)
        if live.definition.run_kind != "workflow":
            raise TypeError(f"actor {live.name!r} has no @workflow to settle")
        for _ in range(1000):
            if live.workflow is not None:
                break
            await asyncio.sleep(0)  # the run task is spawned on wake: let it start
        else:
            raise RuntimeError(f"the workflow of actor {live.name!r} {actor_id} did not start")
        await live.workflow.until_blocked()
