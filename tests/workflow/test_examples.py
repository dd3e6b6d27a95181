"""Every workflow example (examples/wf_*.py) driven end to end, live and across a crash."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from typing import Any

import pytest

from examples import (
    wf_agent_automation,
    wf_approval,
    wf_batch_drainer,
    wf_bounded_drain,
    wf_checkpoint_friendly,
    wf_child_workers,
    wf_control_loop,
    wf_coordinator,
    wf_counter,
    wf_cron,
    wf_dashboard_join,
    wf_fan_in_out,
    wf_invoice,
    wf_poll_backoff,
    wf_progress,
    wf_queue_worker,
    wf_race,
    wf_reminder,
    wf_request_response,
    wf_rollback_checkout,
    wf_saga,
    wf_scatter_gather,
    wf_setup_teardown,
    wf_timeout,
    wf_timeout_fallback,
    wf_versioned,
)
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import workflow_history

from ._helpers import checkpoint, settle


async def _state(h: Any) -> Any:
    return await h.action("get_state")


async def test_invoice(mode: str) -> None:
    async with TestEnvironment(wf_invoice.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("invoice", ["main"])
        await checkpoint(env, h, mode)
        assert await _state(h) == {"subtotal": 100, "tax": 10, "total": 110, "status": "complete"}


async def test_counter(mode: str) -> None:
    async with TestEnvironment(wf_counter.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("workflow_counter", ["main"])
        for delta in (1, 2):
            await h.send("counter", {"delta": delta})
            await checkpoint(env, h, mode)
        assert await _state(h) == {"value": 3, "processed": 2}


async def test_setup_teardown(mode: str) -> None:
    async with TestEnvironment(wf_setup_teardown.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("setup_run_teardown", ["main"])
        await h.send("work", {"amount": 5})
        await checkpoint(env, h, mode)
        await h.send("work", {"amount": 3})
        await h.send("control", {"type": "stop", "reason": "maintenance"})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"phase": "stopped", "total": 8, "processed": 2, "stop_reason": "maintenance"}


async def test_request_response(mode: str) -> None:
    async with TestEnvironment(wf_request_response.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("request_response", ["main"])
        result = await h.send("requests", {"value": 21}, wait=True, timeout=1.0)
        assert result.status == "completed" and result.response == {"doubled": 42}
        await checkpoint(env, h, mode)
        result = await h.send("requests", {"value": 4}, wait=True, timeout=1.0)
        assert result.response == {"doubled": 8}
        assert await _state(h) == {"handled": 2}


async def test_reminder(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(wf_reminder.registry, clock=clock) as env:
        h = env.client.get_or_create("workflow_reminder", ["main"])
        await h.send("reminders", {"text": "send weekly report", "at": clock.now() + 1.0})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"fired": []}
        await clock.advance(1.3)
        await settle(env, h)
        assert await _state(h) == {"fired": ["send weekly report"]}


async def test_dashboard_join(mode: str) -> None:
    async with TestEnvironment(wf_dashboard_join.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("dashboard", ["main"])
        await h.send("refresh", {})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"summary": {"users": 42, "orders": 12, "revenue": 9900}}


async def test_race(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(wf_race.registry, clock=clock) as env:
        h = env.client.get_or_create("workflow_race", ["main"])
        await h.send("start", {})
        await checkpoint(env, h, mode)
        await clock.advance(0.1)
        await settle(env, h)
        assert await _state(h) == {"last_winner": "work", "last_value": "work-complete"}


async def test_timeout(mode: str) -> None:
    async with TestEnvironment(wf_timeout.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("workflow_timeout", ["main"])
        await h.send("charge", {"order_id": "o-1"})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"last_charge_id": "charge-o-1"}


async def test_rollback_checkout(mode: str) -> None:
    async with TestEnvironment(wf_rollback_checkout.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("checkout_actor", ["main"])
        await h.send("checkout", {"order_id": "o-1"})
        await checkpoint(env, h, mode)
        assert (await _state(h))["last_charge_id"] == "charge-o-1"
        await h.send("checkout", {"order_id": "o-2", "fail_payment": True})
        await checkpoint(env, h, mode)
        state = await _state(h)
        assert state["released"] == ["reservation-o-2"] and state["refunded"] == []
        history = await workflow_history(env.runtime, await h.resolve())
        assert history["state"] == "failed"


async def test_progress(mode: str) -> None:
    async with TestEnvironment(wf_progress.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("progress_actor", ["main"])
        seen: list[Any] = []
        async with h.connect() as conn:
            conn.on("progress_updated", seen.append)
            await h.send("jobs", {"value": 5})
            await settle(env, h)
            await h.send("jobs", {"value": 7})
            await settle(env, h)
        await checkpoint(env, h, mode)
        assert await _state(h) == {"progress": {"stage": "completed", "completed": 2, "total": 2}, "sum": 12}
        assert [p["stage"] for p in seen] == ["running", "completed", "running", "completed"]


async def test_cron(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(wf_cron.registry, clock=clock) as env:
        h = env.client.get_or_create("cron", ["main"])
        await checkpoint(env, h, mode)
        await clock.advance(60.0)
        await settle(env, h)
        await clock.advance(60.0)
        await settle(env, h)
        state = await _state(h)
        assert state["runs"] == 2
        assert state["last_run_at"] % 60 == 0


async def test_queue_worker(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(wf_queue_worker.registry, clock=clock) as env:
        h = env.client.get_or_create("queue_worker", ["main"])
        await h.send("jobs", {"id": "a", "amount": 3})
        await checkpoint(env, h, mode)
        await clock.advance(30.0)  # an empty 30 s wait just loops
        await h.send("jobs", {"id": "b", "amount": 4})
        await settle(env, h)
        assert await _state(h) == {"processed": 2, "total_amount": 7}


async def test_approval(mode: str) -> None:
    async with TestEnvironment(wf_approval.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("approval_gate", ["main"])
        await checkpoint(env, h, mode)
        assert await _state(h) == {"pending_request_id": "req-1", "last_decision": None}
        await h.send("approvals", {"request_id": "req-1", "approved": False})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"pending_request_id": "req-1", "last_decision": "rejected"}


async def test_fan_in_out(mode: str) -> None:
    async with TestEnvironment(wf_fan_in_out.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("fan_in_out", ["main"])
        await h.send("refresh", {})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"total": 102}


async def test_batch_drainer(mode: str) -> None:
    async with TestEnvironment(wf_batch_drainer.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("batch_drainer", ["main"])
        for value in range(1, 7):
            await h.send("metrics", {"value": value})
            if value == 3:
                await checkpoint(env, h, mode)
        await settle(env, h)
        assert await _state(h) == {"pending": [6], "flushed_batches": 1, "last_batch_total": 15}


async def test_coordinator(mode: str) -> None:
    async with TestEnvironment(wf_coordinator.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("workflow_coordinator", ["main"])
        await h.send("tasks", {"task_id": "t1", "worker_id": "w1", "value": 21})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"last_task_id": "t1", "last_result": 42}


async def test_scatter_gather(mode: str) -> None:
    async with TestEnvironment(wf_scatter_gather.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("scatter_gather", ["main"])
        await h.send("scatter", {"input": 2})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"last_sum": 60}


async def test_timeout_fallback() -> None:
    clock = MockClock()
    async with TestEnvironment(wf_timeout_fallback.registry, clock=clock) as env:
        h = env.client.get_or_create("timeout_fallback", ["main"])
        await h.send("requests", {})
        actor = await env.runtime.acquire(await h.resolve())
        for _ in range(10_000):  # until the race armed its timer (the primary is still running)
            if actor.workflow_alarm is not None:
                break
            await asyncio.sleep(0)
        await clock.advance(0.2)  # the primary takes 0.5 s (real time): the timer wins
        await settle(env, h)
        assert await _state(h) == {"last_source": "fallback", "last_value": "fallback"}


async def test_saga(mode: str) -> None:
    async with TestEnvironment(wf_saga.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("checkout_saga", ["main"])
        await h.send("orders", {"order_id": "o-1", "amount": 10})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"completed_orders": 1}
        await h.send("orders", {"order_id": "o-2", "amount": -1})  # billing refuses: compensate
        await checkpoint(env, h, mode)
        inventory = await env.client.get_or_create("inventory", ["main"]).action("get_state")
        assert inventory == {"active": ["reserve-o-1", "reserve-o-2"], "compensated": ["reserve-o-2"]}
        billing = await env.client.get_or_create("billing", ["main"]).action("get_state")
        assert billing == {"active": ["charge-10"], "compensated": []}


async def test_control_loop(mode: str) -> None:
    async with TestEnvironment(wf_control_loop.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("control_loop", ["main"])
        await h.send("signals", {"kind": "pause"})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"mode": "paused", "handled_signals": 1}
        await h.send("signals", {"kind": "stop"})
        await settle(env, h)
        assert await _state(h) == {"mode": "stopped", "handled_signals": 2}


async def test_poll_backoff(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(wf_poll_backoff.registry, clock=clock) as env:
        h = env.client.get_or_create("poll_backoff", ["main"])
        await checkpoint(env, h, mode)
        assert await _state(h) == {"attempts": 1, "backoff": 0.2, "status": "retrying"}
        await clock.advance(0.2)
        await checkpoint(env, h, mode)
        assert await _state(h) == {"attempts": 2, "backoff": 0.4, "status": "retrying"}
        await clock.advance(0.4)
        await settle(env, h)
        assert await _state(h) == {"attempts": 3, "backoff": 0.1, "status": "healthy"}


async def test_child_workers(mode: str) -> None:
    async with TestEnvironment(wf_child_workers.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("orchestrator", ["main"])
        await h.send("batches", {"payload": 2})
        await checkpoint(env, h, mode)
        assert await _state(h) == {"last_total": 18}


async def test_bounded_drain(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(wf_bounded_drain.registry, clock=clock) as env:
        h = env.client.get_or_create("bounded_drain", ["main"])
        await checkpoint(env, h, mode)
        actor = await env.runtime.acquire(await h.resolve())
        # 12 messages arrive at once: the first window takes 10, the next one 2.
        for i in range(12):
            actor.queue.push(actor.queue.prepare("work", {"id": str(i), "value": i}))
        await actor.commit()
        await settle(env, h)
        await clock.advance(0.02)
        await settle(env, h)
        state = await _state(h)
        assert state["processed"] == 12
        assert state["last_window_size"] == 2 and state["last_window_total"] == 2 * (10 + 11)


async def test_versioned(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(wf_versioned.registry, clock=clock) as env:
        h = env.client.get_or_create("versioned_workflow", ["main"])
        await checkpoint(env, h, mode)
        await clock.advance(0.5)
        await checkpoint(env, h, mode)
        assert await _state(h) == {"runs": 2}


async def test_checkpoint_friendly(mode: str) -> None:
    async with TestEnvironment(wf_checkpoint_friendly.registry, clock=MockClock()) as env:
        h = env.client.get_or_create("checkpoint_friendly", ["main"])
        await h.send("payments", {"id": "p1", "amount": 5})
        await checkpoint(env, h, mode)
        await h.send("payments", {"id": "p2", "amount": 7})
        await settle(env, h)
        assert await _state(h) == {"applied_count": 2, "total_amount": 12, "last_payment_id": "p2"}


@pytest.fixture
def git_repo() -> Any:
    directory = tempfile.mkdtemp(prefix="rivet-repo-")
    with open(os.path.join(directory, "calc.py"), "w") as f:
        f.write("def add(a, b):\n    return a - b  # BUG\n\n\n# TODO: handle floats\n")
    with open(os.path.join(directory, "test_calc.py"), "w") as f:
        f.write("import unittest\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n")
        f.write("    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-q", "-m", "init"]):
        subprocess.run(command, cwd=directory, check=True, env=env)
    yield directory
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


async def test_agent_automation(mode: str, git_repo: str) -> None:
    async with TestEnvironment(wf_agent_automation.registry) as env:
        fixer = env.client.get_or_create("bug_fixer", ["main"])
        await fixer.send("fixBug", {"repo": git_repo, "issue": "add() subtracts"})
        await checkpoint(env, fixer, mode)
        await settle(env, fixer)
        assert await _state(fixer) == {"last_issue": "add() subtracts", "last_exit_code": 0}
        vm = env.client.get_or_create("vm", ["bug-fixer"])
        assert (await vm.action("get_state"))["sessions"] == {}  # sessions closed inside their steps

        reviewer = env.client.get_or_create("code_reviewer", ["main"])
        await env.client.get_or_create("vm", ["reviewer"]).action(
            "write_file", "/home/user/src/app.py", "x = 1\n# TODO: rename x\n"
        )
        await reviewer.send("codeReview", {"file_path": "/home/user/src/app.py"})
        await checkpoint(env, reviewer, mode)
        await settle(env, reviewer)
        state = await _state(reviewer)
        assert state["reviewed_files"] == 1
        assert state["last_review"] == "line 2: # TODO: rename x\n"
        applied = await env.client.get_or_create("vm", ["reviewer"]).action("read_file", "/home/user/applied.md")
        assert applied == "applied 1 findings\n"
        for key in ("bug-fixer", "reviewer"):
            await env.client.get_or_create("vm", [key]).destroy()
