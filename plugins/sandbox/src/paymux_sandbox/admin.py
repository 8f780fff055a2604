"""The simulator's test controls under ``/_admin``: faults, registrations and counters.

They exist only where the simulator is served: paymux mounts it in sandbox mode only. No API
key: the sandbox holds no real money.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Response

from paymux_sandbox.faults import FaultPlanIn

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

    return router
