"""Timeout + fallback actor: race a slow primary against a timer, fall back when it loses."""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Request(msgspec.Struct):
    pass


class PrimaryService(Actor[None]):
    @action
    async def fetch_value(self) -> str:
        await asyncio.sleep(0.5)
        return "primary"


class FallbackService(Actor[None]):
    @action
    async def fetch_value(self) -> str:
        return "fallback"


class FallbackState(msgspec.Struct):
    last_source: Literal["none", "primary", "fallback"] = "none"
    last_value: str = ""


class TimeoutFallback(Actor[FallbackState]):
    @queue
    def requests(self, body: Request) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-request", names=[self.requests], timeout=30.0)
            if message is None:
                return

            async def primary(branch: WorkflowContext) -> str:
                return await branch.step("call-primary", self.fetch, "primary_service")

            async def timeout(branch: WorkflowContext) -> str:
                await branch.sleep("primary-timeout", 0.2)
                return "timeout"

            winner = await loop.race("primary-vs-timeout", {"primary": primary, "timeout": timeout})
            if winner.winner == "timeout":
                value = await loop.step("fallback-call", self.fetch, "fallback_service")
                await loop.step("record-choice", self.record, "fallback", value)
            else:
                await loop.step("record-choice", self.record, "primary", winner.value)

        await ctx.loop("timeout-loop", each)

    async def fetch(self, service: str) -> str:
        return str(await self.client().get_or_create(service, ["main"]).action("fetch_value"))

    def record(self, source: Literal["primary", "fallback"], value: str) -> None:
        self.state.last_source = source
        self.state.last_value = value

    @action
    def get_state(self) -> FallbackState:
        return self.state


registry = setup(TimeoutFallback, PrimaryService, FallbackService)
