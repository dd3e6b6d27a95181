"""Loops (Rivet WE/tests/loops.test.ts), with and without a crash+reload between waits."""

from __future__ import annotations

from typing import Any

from rivet_dsl import Loop, RollbackContext, WorkflowContext
from rivet_dsl.runtime._codec import decode_builtins
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import PREFIX, Entry, History

from ._helpers import checkpoint, settle
from ._scenario import Job, Scenario, calls, history, registry, result, scenario, start


@scenario
async def stateful_break(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, count: int) -> Loop[int]:
        await loop.step("tick", self.hit, "tick")
        if count >= 4:
            return Loop.break_(count * 10)
        return Loop.continue_(count + 1)

    return await ctx.loop("counter", body, state=0)


@scenario
async def stateless_queue(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext) -> Loop[str] | None:
        message = await loop.queue.next("next", names=[self.jobs])
        total = await loop.step("add", self.add, message.body.value)
        if total >= 6:
            return Loop.break_("enough")
        return None

    return await ctx.loop("work", body)


@scenario
async def struct_state(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, jobs: list[Job]) -> Loop[int]:
        message = await loop.queue.next("next", names=[self.jobs])
        jobs = [*jobs, message.body]
        # Attribute access: the state must come back as Jobs after a wake, not as dicts.
        total = sum(job.value for job in jobs)
        await loop.step("sum", self.note, f"{len(jobs)}:{total}")
        return Loop.break_(total) if len(jobs) == 4 else Loop.continue_(jobs)

    return await ctx.loop("collect", body, state=[], history_prune_interval=2)


async def test_a_loop_state_comes_back_as_its_annotated_type(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "struct_state", mode)
        for value in (1, 2, 3, 4):
            await checkpoint(env, h, mode)
            await h.send("jobs", {"value": value})
        assert await result(env, h) == ("completed", 10)
        assert (await h.action("get_state"))["log"] == ["1:1", "2:3", "3:6", "4:10"]


async def test_stateful_loop_breaks_with_value(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "stateful_break", mode)
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", 40)
        assert calls("stateful_break", mode, "tick") == 5


async def test_stateless_loop_none_continues(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "stateless_queue", mode)
        for value in (1, 2, 3):
            await h.send("jobs", {"value": value})
            await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "enough")
        assert (await h.action("get_state"))["total"] == 6


@scenario
async def void_loop_then_wait(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[None]:
        await loop.step("side", self.hit, "side")
        return Loop.break_(None) if i == 2 else Loop.continue_(i + 1)

    await ctx.loop("loop", body, state=0)
    await ctx.queue.next("wait", names=[self.jobs])
    return "ok"


async def test_completed_void_loop_not_rerun(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "void_loop_then_wait", mode)
        await env.restart()
        await settle(env, h)
        await h.send("jobs", {"value": 1})
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "ok")
        assert calls("void_loop_then_wait", mode, "side") == 3


@scenario
async def resume_state(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, state: int) -> Loop[int]:
        await loop.step("seen", self.note, f"iter-{state}")
        if state == 4:
            return Loop.break_(state)
        await loop.queue.next("gate", names=[self.jobs])
        return Loop.continue_(state + 1)

    return await ctx.loop("loop", body, state=0, history_prune_interval=2)


async def test_resume_from_saved_state_after_crash() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "resume_state", "x")
        for _ in range(3):
            await h.send("jobs", {"value": 0})
            await settle(env, h)
        await env.restart()  # crash in iteration 3: the loop restarts at state 3, not 0
        await settle(env, h)
        assert (await h.action("get_state"))["log"] == ["iter-0", "iter-1", "iter-2", "iter-3"]
        await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", 4)
        assert (await h.action("get_state"))["log"] == ["iter-0", "iter-1", "iter-2", "iter-3", "iter-4"]


@scenario
async def prune(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("work", self.hit, f"i{i}")
        if i == 4:
            await loop.queue.next("hold", names=[self.jobs])
            return Loop.break_(i)
        return Loop.continue_(i + 1)

    return await ctx.loop("loop", body, state=0, history_prune_interval=2)


def _iterations(data: dict[str, Any]) -> list[int]:
    out = set()
    for entry in data["entries"]:
        parts = entry["location"].split("/")
        if len(parts) > 1 and parts[1].startswith("~"):
            out.add(int(parts[1][1:]))
    return sorted(out)


async def test_pruning_keeps_recent_iterations(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "prune", mode)
        await checkpoint(env, h, mode)
        # interval 2, keep 2: at iteration 4 the iterations below 2 were pruned
        assert _iterations(await history(env, h)) == [2, 3, 4]
        await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", 4)
        # prune on break: keeps iterations >= 5 - 2 = 3
        assert _iterations(await history(env, h)) == [3, 4]


@scenario
async def prune_every(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("work", self.hit, "w")
        if i == 6:
            await loop.queue.next("hold", names=[self.jobs])
            return Loop.break_(i)
        return Loop.continue_(i + 1)

    return await ctx.loop("loop", body, state=0, history_prune_interval=1)


async def test_interval_one_keeps_only_latest(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "prune_every", mode)
        await checkpoint(env, h, mode)
        assert _iterations(await history(env, h)) == [5, 6]
        await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", 6)
        assert calls("prune_every", mode, "w") == 7


@scenario
async def loop_error(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("s", self.hit, "s")
        if i == 1:
            raise ValueError("loop body failed")
        return Loop.continue_(i + 1)

    return await ctx.loop("loop", body, state=0)


async def test_loop_body_error_fails_workflow(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "loop_error", mode)
        await checkpoint(env, h, mode)
        state, _ = await result(env, h)
        assert state == "failed"
        assert (await history(env, h))["error"] == {"name": "ValueError", "message": "loop body failed"}


@scenario
async def nested(self: Scenario, ctx: WorkflowContext) -> Any:
    async def outer(loop: WorkflowContext) -> Loop[str] | None:
        message = await loop.queue.next("cmd", names=[self.jobs])

        async def inner(sub: WorkflowContext, j: int) -> Loop[None]:
            await sub.step("inner-step", self.note, f"{message.body.label}{j}")
            return Loop.break_(None) if j == 1 else Loop.continue_(j + 1)

        await loop.loop("sub", inner, state=0)

        async def left(b: WorkflowContext) -> str:
            return await b.step("l", self.note, f"L{message.body.label}")

        async def right(b: WorkflowContext) -> str:
            return await b.step("r", self.note, f"R{message.body.label}")

        await loop.join("both", {"left": left, "right": right})
        won = await loop.race("pick", {"left": left, "right": right})
        await loop.step("winner", self.note, f"W{won.winner}")
        return Loop.break_("done") if message.body.label == "c" else None

    return await ctx.loop("outer", outer)


async def test_nested_loops_joins_races_resume(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "nested", mode)
        for label in ("a", "b"):
            await h.send("jobs", {"label": label})
            await checkpoint(env, h, mode)
        await h.send("jobs", {"label": "c"})
        assert await result(env, h) == ("completed", "done")
        # Per message: the inner loop's two steps, the join's two, then the race's. The race's
        # branches start together and each runs one step: "right"'s step runs (and completes)
        # while "left"'s is being recorded, "left" returns first and wins, and "right" is
        # cancelled after its step completed. A completed step's state effect stays (only its
        # history is dropped with the loser's), and a replay re-runs neither branch: exactly
        # 2 L and 2 R per message, and "Wleft", in both modes.
        log = (await h.action("get_state"))["log"]
        assert log == [
            item
            for label in "abc"
            for item in (f"{label}0", f"{label}1", f"L{label}", f"R{label}", f"L{label}", f"R{label}", "Wleft")
        ]


async def test_loop_state_is_typed_on_replay() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "resume_state", "typed")
        await h.send("jobs", {"value": 0})
        await settle(env, h)
        await env.restart()
        await settle(env, h)
        data = await history(env, h)
        loop_entry = next(e for e in data["entries"] if e["kind"] == "loop")
        assert loop_entry["data"]["state"] == 1 and loop_entry["data"]["iteration"] == 1


@scenario
async def checkpointed(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, total: int) -> Loop[int]:
        message = await loop.queue.next("next", names=[self.jobs])
        await loop.step("note", self.note, f"{total}+{message.body.value}")
        total += message.body.value
        return Loop.break_(total) if message.body.value == 0 else Loop.continue_(total)

    return await ctx.loop("sum", body, state=0, history_prune_interval=5)


async def _stored_loop(env: TestEnvironment, h: Any) -> Entry:
    await env.runtime.storage.commit()
    history = History.from_rows(await env.runtime.storage.load_kv(await h.resolve(), PREFIX))
    return next(e for e in history.entries.values() if e.kind == "loop")


async def test_loop_entry_is_rewritten_only_at_checkpoints(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "checkpointed", mode)
        for value in range(1, 8):
            await h.send("jobs", {"value": value})
            await checkpoint(env, h, mode)
        # Seven iterations done: the stored entry holds the checkpoint of iteration 5 (state
        # 1+..+5); the inspector shows where the awake loop is.
        stored = await _stored_loop(env, h)
        assert (stored.iteration, decode_builtins(stored.state or b"")) == (5, 15)
        live = next(e for e in (await history(env, h))["entries"] if e["kind"] == "loop")
        assert (live["data"]["iteration"], live["data"]["state"]) == (7, 28)
        await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", 28)
        # Replays from the checkpoint re-ran iterations 5 and 6 from history: no step ran twice.
        assert (await h.action("get_state"))["log"] == [
            "0+1", "1+2", "3+3", "6+4", "10+5", "15+6", "21+7", "28+0",
        ]
        stored = await _stored_loop(env, h)
        assert (stored.status, stored.iteration) == ("completed", 8)


def _boom() -> None:
    raise RuntimeError("boom")


@scenario
async def loop_rollback_resume(self: Scenario, ctx: WorkflowContext) -> Any:
    async def undo(rctx: RollbackContext, output: str) -> None:
        self.note(f"undo:{output}")
        if self.hit("undo") == 1:
            raise RuntimeError("undo failed once")  # the workflow stays rolling_back

    await ctx.rollback_checkpoint("cp")

    async def body(loop: WorkflowContext, i: int) -> Loop[None]:
        await loop.step("do", self.note, f"do{i}", rollback=undo)
        if i == 2:
            await loop.step("fail", _boom, max_retries=0)
        return Loop.continue_(i + 1)

    await ctx.loop("loop", body, state=0)


async def test_rollback_resume_compensates_only_the_iteration_in_progress() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "loop_rollback_resume", "live")
        assert (await result(env, h))[0] == "rolling_back"
        # The wake replays from the loop checkpoint (iteration 0) through the finished
        # iterations 0 and 1; only iteration 2's step is compensated.
        await env.restart()
        await settle(env, h)
        assert (await result(env, h))[0] == "failed"
        assert (await h.action("get_state"))["log"] == ["do0", "do1", "do2", "undo:do2", "undo:do2"]


def make_job(label: str) -> Job:
    return Job(7, label)


@scenario
async def typed_break(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext) -> Loop[Job] | None:
        job = await loop.step("make", make_job, "made")
        return Loop.break_(job)

    found = await ctx.loop("once", body)
    joined = await ctx.join("both", {"a": lambda c: c.step("make-a", make_job, "a")})
    await ctx.queue.next("go", names=[self.jobs])
    await ctx.step("types", self.note, f"{type(found).__name__} {type(joined['a']).__name__}")


async def test_values_of_finished_loops_and_joins_keep_their_types_after_a_reload(mode: str) -> None:
    """A body annotated ``-> Loop[Job] | None`` (the documented shape) brings back a ``Job``; a
    join's branches replay, so a lambda branch's value is typed by its step (by the step
    function's annotation, as for any step) as when live."""
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "typed_break", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 1})
        await settle(env, h)
        assert (await h.action("get_state"))["log"] == ["Job Job"]
