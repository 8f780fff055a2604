"""``POST /v1/reconciliations`` (upload a settlement file) and the runs' results.

No ``from __future__ import annotations`` here: FastAPI resolves the local ``Client`` alias.
"""

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from paymux.app.problems import Problem, ProblemRoute
from paymux.app.reconciliation_schemas import (
    DiscrepancyListOut,
    DiscrepancyOut,
    ReconciliationListOut,
    ReconciliationOut,
)
from paymux.app.routes.common import problem_responses
from paymux.app.runtime import PaymuxRuntime
from paymux.core.reconciliation.errors import MalformedSettlementError, WrongFormatError
from paymux.core.services.reconciliation import UnknownRunError

_NOT_FOUND = problem_responses({404: "No such reconciliation run for this client"})
_UPLOAD_ERRORS = problem_responses(
    {
        413: "The file is larger than PAYMUX_RECONCILIATION_MAX_UPLOAD_BYTES",
        422: "Not a settlement file of this provider, or a malformed line (its number is given)",
    }
)


def reconciliations_router(runtime: PaymuxRuntime) -> APIRouter:
    """The reconciliation endpoints, bound to ``runtime``."""
    router = APIRouter(prefix="/v1", tags=["reconciliation"], route_class=ProblemRoute)
    Client = Annotated[str, Depends(runtime.api_keys)]  # noqa: N806 - a type alias
    limit_bytes = runtime.settings.reconciliation_max_upload_bytes

    @router.post(
        "/reconciliations",
        status_code=201,
        response_model=ReconciliationOut,
        responses=_UPLOAD_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def upload(
        request: Request,
        client_id: Client,
        provider: Annotated[str, Query(min_length=1, max_length=32)],
        file_name: Annotated[str | None, Query(max_length=255)] = None,
    ) -> ReconciliationOut:
        """Reconcile a settlement file sent as the request body (the file as it is: CSV,
        JSON or XML), for ``provider``. The whole file is read and checked before anything
        is written; the same file again opens nothing new."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "settlement"
            size = 0
            with path.open("wb") as file:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit_bytes:
                        raise Problem(
                            "payload-too-large", f"the file is larger than {limit_bytes} bytes"
                        )
                    file.write(chunk)
            try:
                result = await runtime.reconciliation.reconcile(
                    path,
                    provider=provider,
                    client_id=client_id,
                    source="upload",
                    file_name=file_name or f"{provider}-upload",
                )
            except MalformedSettlementError as error:
                raise Problem(
                    "settlement-file-malformed", str(error), line_number=error.line_number
                ) from None
            except WrongFormatError as error:
                raise Problem("settlement-file-refused", str(error)) from None
        return ReconciliationOut.of(result.run)

    @router.get("/reconciliations", response_model=ReconciliationListOut)
    async def list_reconciliations(
        client_id: Client, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> ReconciliationListOut:
        """This client's latest runs, newest first."""
        runs = await runtime.reconciliation.list_runs(client_id, limit=limit)
        return ReconciliationListOut(reconciliations=[ReconciliationOut.of(r) for r in runs])

    @router.get("/reconciliations/{run_id}", response_model=ReconciliationOut, responses=_NOT_FOUND)
    async def get_reconciliation(run_id: str, client_id: Client) -> ReconciliationOut:
        """One run: its file, period, line counts, totals and what it found."""
        try:
            run = await runtime.reconciliation.get_run(run_id, client_id=client_id)
        except UnknownRunError:
            raise Problem("reconciliation-not-found", f"no reconciliation {run_id}") from None
        return ReconciliationOut.of(run)

    @router.get(
        "/reconciliations/{run_id}/discrepancies",
        response_model=DiscrepancyListOut,
        responses=_NOT_FOUND,
    )
    async def list_discrepancies(
        run_id: str,
        client_id: Client,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: Annotated[str | None, Query(max_length=40)] = None,
    ) -> DiscrepancyListOut:
        """The discrepancies this run opened (each discrepancy is opened by one run only),
        with whether a later run resolved them."""
        try:
            found = await runtime.reconciliation.run_discrepancies(
                run_id, client_id=client_id, after=after, limit=limit
            )
        except UnknownRunError:
            raise Problem("reconciliation-not-found", f"no reconciliation {run_id}") from None
        return DiscrepancyListOut(
            discrepancies=[DiscrepancyOut.of(d) for d in found],
            next_after=found[-1].id if len(found) == limit else None,
        )

    return router
