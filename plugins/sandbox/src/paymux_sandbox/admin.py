"""The simulator's test controls under ``/_admin``: faults, registrations, counters and the
settlement files (with their faults).

They exist only where the simulator is served: paymux mounts it in sandbox mode only. No API
key: the sandbox holds no real money.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from paymux_sandbox.faults import FaultPlanIn
from paymux_sandbox.settlement_faults import SettlementFaultPlanIn

if TYPE_CHECKING:
    from paymux_sandbox.simulator import SandboxPsp


def admin_router(psp: SandboxPsp) -> APIRouter:
    """The ``/_admin`` routes of fault control and counters for ``psp``."""
    router = APIRouter(prefix="/_admin")

    @router.get("/faults")
    async def faults() -> dict[str, object]:
        """What is scripted now, and how many faults were injected so far."""
        return psp.faults.describe()

    @router.post("/faults")
    async def add_faults(plan: FaultPlanIn) -> dict[str, object]:
        """Queue faults for the next API requests and hosted-page submissions, and set (or
        turn off) the random ones."""
        psp.faults.apply(plan)
        return psp.faults.describe()

    @router.delete("/faults", status_code=204)
    async def clear_faults() -> Response:
        """No more faults (the counts stay)."""
        psp.faults.clear()
        return Response(status_code=204)

    @router.get("/registrations")
    async def registrations(
        payment_id: Annotated[str | None, Query(max_length=100)] = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Per paymux payment id: each idempotency key its registration requests carried
        (and how often), and the checkouts it got."""
        return {"registrations": psp.registrations_report(payment_id)}

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        """Counters for tests and benchmarks."""
        return psp.stats()

    @router.get("/settlement-faults")
    async def settlement_faults() -> dict[str, object]:
        """The settlement faults in force, and the lines those without a reference took."""
        return psp.settlement_faults.describe()

    @router.post("/settlement-faults")
    async def add_settlement_faults(plan: SettlementFaultPlanIn) -> dict[str, object]:
        """Add faults to the settlement files (see :mod:`paymux_sandbox.settlement_faults`)."""
        psp.settlement_faults.apply(plan)
        return psp.settlement_faults.describe()

    @router.delete("/settlement-faults", status_code=204)
    async def clear_settlement_faults() -> Response:
        """No more settlement faults: files are written as they truly are."""
        psp.settlement_faults.clear()
        return Response(status_code=204)

    @router.get("/settlements/{day}")
    async def settlement(day: date) -> Response:
        """The settlement file (CSV) of the UTC day ``day``; ``404`` for a day to come."""
        if day > psp.now().date():
            raise HTTPException(404, {"code": "not_found", "message": f"{day} has not begun"})
        return Response(
            psp.settlement_file(day),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="sandbox-settlement-{day}.csv"'},
        )

    return router
