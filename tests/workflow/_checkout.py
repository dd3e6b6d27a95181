"""The checkout steps shared by the ``recover()`` scenarios of
``test_recover_finished_join.py`` and ``test_recover_finished_race.py``: a charge and a
shipment that fail while ``BROKEN[tag]`` is set, and a payment branch that catches a declined
charge (so the join or race around it finishes) and prints a receipt only after a charge."""

from __future__ import annotations

from rivet_dsl import CriticalError, WorkflowContext

from ._scenario import Scenario

#: Per scenario tag: whether the charge and the shipment fail.
BROKEN: dict[str, bool] = {}


class Checkout:
    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self._tag = scenario.tag

    def charge(self) -> str:
        self._scenario.hit("charge")
        if BROKEN[self._tag]:
            raise CriticalError("card declined")
        return "charged"

    def ship(self) -> str:
        self._scenario.hit("ship")
        if BROKEN[self._tag]:
            raise CriticalError("no stock")
        return "shipped"

    async def pay(self, b: WorkflowContext) -> str:
        try:
            charged = await b.step("charge", self.charge)
        except CriticalError:
            return "declined"
        await b.step("receipt", self._scenario.hit, "receipt")  # only once the charge succeeded
        return charged
