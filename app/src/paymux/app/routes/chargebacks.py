"""``GET /v1/chargebacks/{id}`` and ``GET /v1/payments/{id}/chargebacks``.

Chargebacks are never created through the API: providers report them by webhook.
No ``from __future__ import annotations`` here: FastAPI resolves the local scope aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response, Security

from paymux.app.dispute_schemas import ChargebackListOut, ChargebackOut
from paymux.app.localization import DisplayLocale, display_headers, localize, requested_locale
from paymux.app.routes.common import api_router, problem_responses
from paymux.app.runtime import PaymuxRuntime
from paymux.core.domain.api_keys import Scope

_ERRORS = problem_responses({404: "No such chargeback or payment for this client"})


def chargebacks_router(runtime: PaymuxRuntime) -> APIRouter:
    """The chargeback endpoints, bound to ``runtime``."""
    router = api_router(prefix="/v1", tags=["chargebacks"])
    Reader = Annotated[str, Security(runtime.api_keys, scopes=[Scope.PAYMENTS_READ])]  # noqa: N806
    Locale = Annotated[DisplayLocale | None, Depends(requested_locale)]  # noqa: N806

    @router.get("/chargebacks/{chargeback_id}", response_model=ChargebackOut, responses=_ERRORS)
    async def get_chargeback(
        chargeback_id: str, client_id: Reader, locale: Locale, response: Response
    ) -> ChargebackOut:
        """A chargeback: its status (``opened``, ``won``, ``lost``) and its parts per order."""
        found = await runtime.chargebacks.get_chargeback(chargeback_id, client_id=client_id)
        response.headers.update(display_headers(locale))
        return localize(ChargebackOut.of(found), locale)

    @router.get(
        "/payments/{payment_id}/chargebacks", response_model=ChargebackListOut, responses=_ERRORS
    )
    async def list_chargebacks(
        payment_id: str, client_id: Reader, locale: Locale, response: Response
    ) -> ChargebackListOut:
        """Every chargeback of a payment, oldest first."""
        found = await runtime.chargebacks.chargebacks_of(payment_id, client_id=client_id)
        response.headers.update(display_headers(locale))
        view = ChargebackListOut(
            payment_id=payment_id, chargebacks=[ChargebackOut.of(c) for c in found]
        )
        return localize(view, locale)

    return router
