"""Simple workflow: a short multi-step sequence (load, calculate, save)."""

from __future__ import annotations

from typing import Literal

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, setup, workflow


class InvoiceState(msgspec.Struct):
    subtotal: int = 0
    tax: int = 0
    total: int = 0
    status: Literal["idle", "complete"] = "idle"


async def load_subtotal() -> int:
    return 100


class Invoice(Actor[InvoiceState]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        subtotal = await ctx.step("load-subtotal", load_subtotal)
        tax = await ctx.step("calculate-tax", calculate_tax, subtotal)
        await ctx.step("save-invoice", self.save, subtotal, tax)

    def save(self, subtotal: int, tax: int) -> None:
        self.state.subtotal = subtotal
        self.state.tax = tax
        self.state.total = subtotal + tax
        self.state.status = "complete"

    @action
    def get_state(self) -> InvoiceState:
        return self.state


def calculate_tax(subtotal: int) -> int:
    return round(subtotal * 0.1)


registry = setup(Invoice)
