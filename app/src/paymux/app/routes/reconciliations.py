"""``POST /v1/reconciliations`` (upload a settlement file) and the runs' results.

No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

import hashlib
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, Security

from paymux.app.idempotency import fingerprint, idempotency_key
from paymux.app.localization import DisplayLocale, display_headers, localize, requested_locale
from paymux.app.openapi_links import RECONCILIATION_LINKS
from paymux.app.problems import Problem
from paymux.app.reconciliation_schemas import (
    DiscrepancyListOut,
    DiscrepancyOut,
    ReconciliationListOut,
    ReconciliationOut,
)
from paymux.app.routes.common import (
    IDEMPOTENCY_KEY_PARAMETER,
    api_router,
    problem_responses,
    stored_response,
)
from paymux.app.routes.paging import page_limit
from paymux.app.runtime import PaymuxRuntime
from paymux.core.domain.api_keys import Scope
from paymux.core.reconciliation.errors import MalformedSettlementError, WrongFormatError
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.reconciliation import UnknownRunError

_NOT_FOUND = problem_responses({404: "No such reconciliation run for this client"})
_UPLOAD_ERRORS = problem_responses(
    {
        400: "No or a malformed Idempotency-Key",
        409: "A request with this Idempotency-Key is running",
        413: "The file is larger than PAYMUX_RECONCILIATION_MAX_UPLOAD_BYTES",
        422: "Not a settlement file of this provider, a malformed line (its number is given), "
        "or the Idempotency-Key was used with another file",
    }
)


def reconciliations_router(runtime: PaymuxRuntime) -> APIRouter:
    """The reconciliation endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1", tags=["reconciliation"])
    Admin = Annotated[str, Security(runtime.api_keys, scopes=[Scope.ADMIN])]  # noqa: N806
    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806
    limit_bytes = runtime.settings.reconciliation_max_upload_bytes

    @router.post(
        "/reconciliations",
        status_code=201,
        response_model=ReconciliationOut,
        responses={**_UPLOAD_ERRORS, 201: RECONCILIATION_LINKS},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        },
    )
    async def upload(
        request: Request,
        client_id: Admin,
        key: Annotated[str, Depends(idempotency_key)],
        locale: Locale,
        provider: Annotated[str, Query(min_length=1, max_length=32)],
        file_name: Annotated[
            str | None,
            Query(
                max_length=255,
                pattern=r"^[^\x00-\x1f\x7f]+$",
                description="Shown in the run (no control characters)",
            ),
        ] = None,
    ) -> Response:
        """Reconcile a settlement file sent as the request body (the file as it is: CSV,
        JSON or XML), for ``provider``. The whole file is read and checked before anything
        is written. The same ``Idempotency-Key`` again replays the first answer; the same
        file under a new key is a new run that opens nothing new."""
        name = file_name or f"{provider}-upload"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "settlement"
            size = 0
            digest = hashlib.sha256()
            with path.open("wb") as file:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit_bytes:
                        raise Problem(
                            "payload-too-large", f"the file is larger than {limit_bytes} bytes"
                        )
                    digest.update(chunk)
                    file.write(chunk)
            sent = {"provider": provider, "file_name": name, "sha256": digest.hexdigest()}
            try:
                stored = await runtime.reconciliation.upload(
                    path,
                    IdempotentRequest(
                        client_id=client_id,
                        key=key,
                        fingerprint=fingerprint("POST", "/v1/reconciliations", sent),
                    ),
                    provider=provider,
                    file_name=name,
                    file_sha256=sent["sha256"],
                    render=lambda run: ReconciliationOut.of(run).model_dump_json(),
                )
            except MalformedSettlementError as error:
                raise Problem(
                    "settlement-file-malformed", str(error), line_number=error.line_number
                ) from None
            except WrongFormatError as error:
                raise Problem("settlement-file-refused", str(error)) from None
        return stored_response(stored, ReconciliationOut, locale)

    @router.get("/reconciliations", response_model=ReconciliationListOut)
    async def list_reconciliations(
        client_id: Admin,
        limit: Annotated[int, page_limit(50, 500)],
        locale: Locale,
        response: Response,
    ) -> ReconciliationListOut:
        """This client's latest runs, newest first."""
        runs = await runtime.reconciliation.list_runs(client_id, limit=limit)
        response.headers.update(display_headers(locale))
        view = ReconciliationListOut(reconciliations=[ReconciliationOut.of(r) for r in runs])
        return localize(view, locale)

    @router.get("/reconciliations/{run_id}", response_model=ReconciliationOut, responses=_NOT_FOUND)
    async def get_reconciliation(
        run_id: str, client_id: Admin, locale: Locale, response: Response
    ) -> ReconciliationOut:
        """One run: its file, period, line counts, totals and what it found."""
        try:
            run = await runtime.reconciliation.get_run(run_id, client_id=client_id)
        except UnknownRunError:
            raise Problem("reconciliation-not-found", f"no reconciliation {run_id}") from None
        response.headers.update(display_headers(locale))
        return localize(ReconciliationOut.of(run), locale)

    @router.get(
        "/reconciliations/{run_id}/discrepancies",
        response_model=DiscrepancyListOut,
        responses=_NOT_FOUND,
    )
    async def list_discrepancies(
        run_id: str,
        client_id: Admin,
        limit: Annotated[int, page_limit(100, 1000)],
        locale: Locale,
        response: Response,
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
        response.headers.update(display_headers(locale))
        view = DiscrepancyListOut(
            discrepancies=[DiscrepancyOut.of(d) for d in found],
            next_after=found[-1].id if len(found) == limit else None,
        )
        return localize(view, locale)

    return router
