"""The per-actor workflow engine: loads history, runs the handler, owns timers and idleness.

One :class:`WorkflowEngine` exists per awake workflow actor (``actor.workflow``). It runs the
``@workflow`` method once per wake: recorded entries replay from the history loaded at wake,
and after that the coroutine simply continues (no replay while awake). Waits (queue, sleep,
retry backoff) go through :meth:`WorkflowEngine.wait`, which tells the actor it is idle and arms
the actor's alarm for deadlines, so a waiting workflow lets the actor sleep.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import typing
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import EntryInProgressError, HistoryDivergedError, WorkflowError
from ..actor._guard import in_workflow_code
from ..runtime._codec import decode_builtins, decoder_for, encode
from ..runtime._instance import Status
from ._history import ENTRY_PREFIX, META_KEY, Entry, History, encode_entry

if TYPE_CHECKING:
    from ..runtime._instance import LiveActor
    from ..runtime._queue import QueueMessage
    from ._context import WorkflowContext

__all__ = ["RaceTake", "RollbackCheckpointError", "RollbackContext", "WorkflowEngine", "decode_output", "hint_of"]

_log = logging.getLogger("rivet_dsl.workflow")


class RollbackCheckpointError(WorkflowError):
    """A step with ``rollback=`` ran without an earlier ``ctx.rollback_checkpoint(...)``."""

    default_code = "rollback_checkpoint_missing"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"Rollback requires a checkpoint before any rollback step (step {path!r})", metadata={"path": path}
        )


class RollbackStop(Exception):
    """Internal: rollback-mode replay reached the first incomplete entry."""


class RollbackContext:
    """What a ``rollback=`` handler receives."""

    __slots__ = ("aborted", "step", "workflow_id")

    def __init__(self, workflow_id: str, step: str, aborted: asyncio.Event) -> None:
        self.workflow_id = workflow_id
        self.step = step
        self.aborted = aborted


#: Per function: the workflow's closures (a loop body) are new objects on every run, so the
#: cache must not keep them alive.
_hint_cache: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
#: Per code object: a closure defined in a run handler is a new function at every wake, and
#: resolving its string annotations (``from __future__ import annotations``) costs 30-60 µs.
#: Its hints are those of every other function made from the same code, as long as the
#: annotations and the module they are resolved in are the same (checked on every hit).
_code_hints: weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], Any, dict[str, Any], list[str]]] = (
    weakref.WeakKeyDictionary()
)


def _type_hints(func: Any) -> tuple[dict[str, Any], list[str]]:
    """``typing.get_type_hints(func)`` and its parameter names, cached per code object."""
    code = getattr(func, "__code__", None)
    found = getattr(func, "__annotations__", None)
    annotations: dict[str, Any] = found if isinstance(found, dict) else {}
    cacheable = code is not None and isinstance(found, dict) and not hasattr(func, "__wrapped__")
    if cacheable:
        cached = _code_hints.get(code)
        if cached is not None and cached[1] is func.__globals__ and cached[0] == annotations:
            return cached[2], cached[3]
    hints = typing.get_type_hints(func)
    params = list(inspect.signature(func).parameters)
    if cacheable:
        try:
            _code_hints[code] = (dict(annotations), func.__globals__, hints, params)
        except TypeError:
            pass
    return hints, params


def hint_of(fn: Any) -> Any:
    """The return annotation of ``fn`` (for typed replay), ``Any`` if unknown."""
    func = getattr(fn, "__func__", fn)
    try:
        return _hint_cache[func]
    except KeyError:
        pass
    except TypeError:
        return Any
    try:
        hint = _type_hints(func)[0].get("return", Any)
    except Exception:
        hint = Any
    if hint is type(None):
        hint = Any
    try:
        _hint_cache[func] = hint
    except TypeError:
        pass
    return hint


def state_hint_of(fn: Any, initial: Any) -> Any:
    """The type a stateful loop's state is restored as: the annotation of ``fn``'s state
    parameter (the one after the context), else the type of the initial state, else ``Any``.
    Only the annotation restores what the state holds (``list[Job]`` brings back ``Job``s;
    ``list`` brings back dicts)."""
    func = getattr(fn, "__func__", fn)
    try:
        hints, params = _type_hints(func)
        hint = hints.get(params[1], Any) if len(params) >= 2 else Any
    except Exception:
        hint = Any
    if hint is Any and initial is not None:
        return type(initial)
    return hint


def decode_output(hint: Any, blob: bytes | None) -> Any:
    """Decode a recorded output as ``hint`` (falls back to plain data)."""
    if blob is None:
        return None
    if hint is Any:
        return decode_builtins(blob)
    try:
        return decoder_for(hint).decode(blob)
    except (msgspec.ValidationError, TypeError):
        return decode_builtins(blob)


class RaceTake(typing.NamedTuple):
    """Messages a receive took inside a race branch, not yet kept for good."""

    entry: Entry
    completable: bool
    #: The race branches the receive ran in, outermost first (``WorkflowContext._race_roots``).
    roots: tuple[bytes, ...]


class _Timer:
    __slots__ = ("deadline", "future")

    def __init__(self, deadline: float, future: asyncio.Future[None]) -> None:
        self.deadline = deadline
        self.future = future


class WorkflowEngine:
    """Runs one actor's workflow (see the module docstring)."""

    def __init__(self, actor: LiveActor) -> None:
        self.actor = actor
        self.actor_id = actor.actor_id
        self.storage = actor.runtime.storage
        self.clock = actor.runtime.clock
        self.history = History()
        #: "forward" normally; "rollback" while replaying to collect rollback handlers.
        self.mode = "forward"
        self.active = 0
        self.done = False
        #: Set once the history is loaded (or failed to load): before that, ``status`` cannot
        #: tell a failed workflow from one that waits.
        self.loaded = asyncio.Event()
        self.dirty = False
        #: While the workflow runs, the persisted alarm is ``resume_at`` so a crashed process
        #: resumes it on restart (see ``LiveActor.alarms_changed``).
        self.resume_at: float | None = None
        self._timers: dict[int, _Timer] = {}
        self._timer_ids = itertools.count()
        self._blocked = asyncio.Event()
        self.rollbacks: list[tuple[bytes, Entry, Callable[..., Any], Any, str]] = []
        self.outstanding: list[QueueMessage[Any]] = []
        #: Messages taken inside race branches, by the location of their entry: a losing
        #: branch's go back to the queue (see ``WorkflowContext._race``).
        self.race_takes: dict[bytes, RaceTake] = {}
        self.error: BaseException | None = None
        #: The divergence that ends this run (set where it is raised; see ``WorkflowContext._halt``).
        self.halted: BaseException | None = None
        #: Loops in progress: location -> (iteration, state). The stored loop entry is rewritten
        #: only at loop checkpoints; this is what the inspector shows while the actor is awake.
        self.live_loops: dict[bytes, tuple[int, Any]] = {}
        #: Writes of ``get_version``/``removed`` entries (and the names they interned), held
        #: back until the run records anything else (see :meth:`stage_later`).
        self.deferred: list[tuple[bytes, bytes]] = []

    # -- history writes ------------------------------------------------------------------------

    def stage_later(self, key: bytes, value: bytes) -> None:
        """Stage ``key`` with the next write of this run, not now. A version gate or a
        ``removed`` placeholder is matched by name, not position, so it is entered before a
        later entry can be found to diverge; a diverging run must write nothing (SEMANTICS 6).
        Held back, it is staged just before the run records anything else (in the same batch,
        so it is durable before or with what follows it), and dropped if the run diverges
        first. Until then, a replay answers it the same way: the history it depends on has
        not changed."""
        self.deferred.append((key, value))

    def put_entry_later(self, location: bytes, entry: Entry) -> None:
        self.stage_later(ENTRY_PREFIX + location, encode_entry(entry))

    def _flush_deferred(self) -> None:
        batch = self.storage.batch
        for key, value in self.deferred:
            batch.kv_put(self.actor_id, key, value)
        self.deferred.clear()

    def stage(self, key: bytes, value: bytes) -> None:
        if self.deferred:  # rare (a new version gate): no call on the hot path
            self._flush_deferred()
        self.storage.batch.kv_put(self.actor_id, key, value)
        self.dirty = True

    def put_entry(self, location: bytes, entry: Entry) -> None:
        if self.deferred:  # rare (a new version gate): no call on the hot path
            self._flush_deferred()
        self.storage.batch.kv_put(self.actor_id, ENTRY_PREFIX + location, encode_entry(entry))
        self.dirty = True

    def put_meta(self) -> None:
        if self.deferred:  # rare (a new version gate): no call on the hot path
            self._flush_deferred()
        self.storage.batch.kv_put(self.actor_id, META_KEY, encode(self.history.meta))
        self.dirty = True

    def delete_prefix(self, location: bytes) -> None:
        """Delete every entry under ``location`` (a race loser's branch), stored and loaded."""
        if self.deferred:  # rare (a new version gate): no call on the hot path
            self._flush_deferred()
        start = ENTRY_PREFIX + location
        self.storage.batch.kv_delete_range(self.actor_id, start, start + b"\xff")
        entries = self.history.entries
        for key in [k for k in entries if k.startswith(location)]:
            del entries[key]
        self.dirty = True

    def delete_range(self, start: bytes, end: bytes) -> None:
        """Delete the entries in ``[start, end)`` (pruned loop iterations), stored and loaded."""
        if self.deferred:  # rare (a new version gate): no call on the hot path
            self._flush_deferred()
        self.storage.batch.kv_delete_range(self.actor_id, ENTRY_PREFIX + start, ENTRY_PREFIX + end)
        entries = self.history.entries
        if entries:
            for key in [k for k in entries if start <= k < end]:
                del entries[key]
        self.dirty = True

    async def commit(self) -> None:
        self.dirty = False
        await self.actor.commit()

    def now(self) -> float:
        return self.clock.now()

    # -- idleness ------------------------------------------------------------------------------

    def inc(self) -> None:
        self.active += 1
        if self.active == 1:
            self._blocked.clear()
            self.resume_at = self.clock.now()
            self.actor.leave_wait()
            self.actor.persist_due()

    def dec(self) -> None:
        self.active -= 1
        if self.active == 0:
            if self.dirty:
                # A message hand-off or an ephemeral step is staged: make sure it commits.
                self.dirty = False
                self.actor.save_soon()
            # The stored alarm stays due (see ``LiveActor.persist_due``): waiting for a message,
            # the workflow would store none, only to store one again when the message comes.
            # The in-memory timer is armed by whatever set the wait's deadline (``wait``).
            self.resume_at = None
            self.actor.enter_wait()
            self._blocked.set()

    async def until_blocked(self) -> None:
        """Test hook: return once the workflow waits (queue, timer) or has finished."""
        while True:
            await self._blocked.wait()
            for _ in range(3):
                await asyncio.sleep(0)
            if self.done or self.active == 0:
                await self.actor.commit()
                return

    async def block(self, future: asyncio.Future[Any]) -> None:
        """Await ``future`` as a wait: the actor may idle-sleep meanwhile."""
        unblocked = False

        def unblock(_: object = None) -> None:
            nonlocal unblocked
            # Not while the actor stops: a sleep cancels the wait, and counting the workflow
            # as running again then would make the final save store a "resume now" alarm
            # (every restart would wake the actor for nothing).
            if not unblocked and self._awake():
                unblocked = True
                self.inc()

        self.dec()
        future.add_done_callback(unblock)
        try:
            await future
        finally:
            future.remove_done_callback(unblock)
            if self._awake():
                unblock()

    def _awake(self) -> bool:
        return self.actor.status is Status.AWAKE

    def stopping(self) -> bool:
        """The run is being cancelled because the actor goes to sleep (or is destroyed): what is
        staged now commits with its final save. Not after a crash (nothing more is saved), nor
        on a run that diverged (it writes nothing) or a rollback replay."""
        return self.actor.status is Status.STOPPING and self.halted is None and self.mode == "forward"

    async def wait(self, future: asyncio.Future[Any], deadline: float | None = None) -> None:
        """Wait for ``future`` or until ``deadline`` (epoch seconds), whichever comes first."""
        timer_id = None
        if deadline is not None:
            if deadline <= self.clock.now():
                return
            timer_id = next(self._timer_ids)
            self._timers[timer_id] = _Timer(deadline, future)
            self._update_alarm()
            self.actor.alarms_changed()
        try:
            await self.block(future)
        finally:
            if timer_id is not None and self._awake():
                if self._timers.pop(timer_id, None) is not None:
                    self._update_alarm()
                    self.actor.alarms_changed()

    async def sleep_until(self, deadline: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.wait(future, deadline)

    def _update_alarm(self) -> None:
        pending = [t.deadline for t in self._timers.values() if not t.future.done()]
        self.actor.workflow_alarm = min(pending) if pending else None

    def on_alarm(self, now: float) -> None:
        """Called by the runtime when ``actor.workflow_alarm`` is due."""
        for timer_id, timer in list(self._timers.items()):
            if timer.deadline <= now:
                del self._timers[timer_id]
                if not timer.future.done():
                    timer.future.set_result(None)
        self._update_alarm()

    # -- hooks ---------------------------------------------------------------------------------

    async def report(self, event: dict[str, Any]) -> None:
        """Call the actor's ``on_error(event)`` hook, if it has one (errors are logged)."""
        hook = getattr(self.actor.user, "on_error", None)
        if hook is None or not callable(hook):
            return
        token = in_workflow_code.set(False)
        try:
            result = hook(event)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            self.actor.log.exception("on_error failed")
        finally:
            in_workflow_code.reset(token)

    # -- running -------------------------------------------------------------------------------

    async def load(self) -> None:
        from ._history import PREFIX

        try:
            rows = await self.storage.load_kv(self.actor_id, PREFIX)
            self.history = History.from_rows(rows)
        finally:
            # A waiter wakes after run() has settled a finished history (no await in between).
            self.loaded.set()

    @property
    def status(self) -> str:
        """``completed``/``failed``/``rolling_back`` once settled, else ``running``/``waiting``."""
        meta = self.history.meta.status
        if meta in ("completed", "failed", "rolling_back") and self.done:
            return meta
        if self.done:
            return "failed" if self.error is not None else meta
        return "waiting" if self.active == 0 and self.loaded.is_set() else "running"

    async def run(self) -> None:
        from ._context import WorkflowContext

        actor = self.actor
        await self.load()
        meta = self.history.meta
        if meta.status in ("completed", "failed"):
            self._finish()
            return
        in_workflow_code.set(True)
        run_attr = actor.definition.run_attr
        assert run_attr is not None
        fn = getattr(actor.user, run_attr)
        root = WorkflowContext(self, b"", "")
        self.inc()
        evicted = False
        try:
            # Persist the "running" alarm right away: whatever wakes this actor (a message, an
            # alarm whose handler already cleared the stored alarm), a crash from here on
            # resumes the workflow on restart; waits re-arm their own deadlines.
            await self.commit()
            if meta.status == "rolling_back":
                await self._resume_rollback(fn, root)
                return
            if meta.status != "running":
                meta.status = "running"
                self.put_meta()
            output = await fn(root)
            root._finish_scope()
            meta.status = "completed"
            meta.output = None if output is None else encode(output)
            self.put_meta()
            await self.commit()
        except asyncio.CancelledError:
            evicted = not self._awake()
            raise
        except (HistoryDivergedError, EntryInProgressError) as exc:
            # The code does not match the history: write nothing, keep the history for a fixed deploy.
            self.error = exc
            actor.workflow_error(exc)
        except Exception as exc:
            self.error = exc
            await self._fail(exc)
        finally:
            if not evicted:
                self._finish()

    def _finish(self) -> None:
        self.done = True
        self._timers.clear()
        self.actor.workflow_alarm = None
        self.resume_at = None
        self.active = 0
        self.actor.alarms_changed()
        self._blocked.set()

    async def _fail(self, exc: BaseException) -> None:
        meta = self.history.meta
        error = {"name": type(exc).__name__, "message": str(exc)}
        meta.error = error
        self.actor.workflow_error(exc)
        if self.rollbacks and not isinstance(exc, RollbackCheckpointError):
            meta.status = "rolling_back"
            self.put_meta()
            await self.commit()
            if not await self._run_rollbacks():
                return
        meta.status = "failed"
        report = not meta.reported
        meta.reported = True
        self.put_meta()
        if report:
            await self.report({"workflow": {"workflow_id": self.actor_id, "error": error}})
        await self.commit()

    async def _run_rollbacks(self) -> bool:
        """Run registered compensations in reverse order; False if one failed (stays rolling_back)."""
        aborted = self.actor.aborted
        for location, entry, handler, output, path in reversed(self.rollbacks):
            if entry.rollback_done:
                continue
            token = in_workflow_code.set(False)
            # A compensation is isolated as a step is (see LiveActor.begin_step): its state
            # changes commit with its `rollback_done` mark, never half of them before.
            step = self.actor.begin_step()
            try:
                result = handler(RollbackContext(self.actor_id, path, aborted), output)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                self.actor.end_step(step, cancelled=True)
                raise
            except Exception as exc:
                self.actor.end_step(step)
                entry.rollback_error = f"{type(exc).__name__}: {exc}"
                self.put_entry(location, entry)
                await self.report(
                    {"rollback": {"workflow_id": self.actor_id, "step_name": path, "error": {"name": type(exc).__name__, "message": str(exc)}}}
                )
                await self.commit()
                self.actor.log.error("rollback of %s failed: %s", path, exc)
                return False
            finally:
                in_workflow_code.reset(token)
            self.actor.end_step(step)
            entry.rollback_done = True
            entry.rollback_error = None
            self.put_entry(location, entry)
            await self.commit()
        self.rollbacks.clear()
        return True

    async def _resume_rollback(self, fn: Callable[[WorkflowContext], Any], root: WorkflowContext) -> None:
        """After a crash mid-rollback: replay completed entries to find the handlers, then finish."""
        self.mode = "rollback"
        try:
            await fn(root)
        except RollbackStop:
            pass
        except (asyncio.CancelledError, HistoryDivergedError, EntryInProgressError):
            # A divergence: the code does not match the history, so the handlers found so far
            # are not all of them. Nothing is compensated or written (see run).
            raise
        except Exception:
            pass  # the failure that started the rollback, raised again by the replay
        meta = self.history.meta
        if await self._run_rollbacks():
            meta.status = "failed"
            self.put_meta()
            await self.commit()
